"""FraudOps: a credit-card fraud model carried through its whole life on real MLOps parts."""

import os

# Arrow's buffers come from jemalloc, not from mimalloc (Arrow's default): mimalloc hands big
# freed blocks back to the system and takes them again as huge pages the kernel zeroes each
# time; the demo spent 6.0 s of CPU in the kernel with it, 1.7 s with jemalloc, and finished
# 1.17x sooner (`python -m bench.demo --baseline fc58355`). Arrow reads this once, when
# pyarrow loads: a process that loaded pyarrow before fraudops keeps its allocator (the
# images set it for every process), and a value the user set wins.
#
# numpy's big arrays on ordinary pages: numpy asks the kernel for transparent huge pages for
# them (madvise), and a kernel that compacts memory to find each one when it is first touched
# (THP "defrag" set to madvise, the default) made an inbox file's model matrix cost more time
# in the kernel than in numpy; a 1M-row file scored 1.24x sooner without them (`python -m
# bench.inbox --only fraudops --baseline 0570e0f --repeat 3`). As above: a process that
# loaded numpy first keeps its setting, and a value the user set wins.
MEMORY_SETTINGS = {"ARROW_DEFAULT_MEMORY_POOL": "jemalloc", "NUMPY_MADVISE_HUGEPAGE": "0"}
for _name, _value in MEMORY_SETTINGS.items():
    os.environ.setdefault(_name, _value)
del _name, _value

__version__ = "0.1.0"
