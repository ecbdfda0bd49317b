"""Arrow's allocator: jemalloc in every process that imports fraudops first, unless set.

Each case runs in a fresh interpreter: Arrow reads its allocator once, when pyarrow loads.
"""

from __future__ import annotations

import pytest

from tests.support.fresh import run_fresh

BACKEND = "import fraudops, pyarrow; print(pyarrow.default_memory_pool().backend_name)"


def backend(env: dict[str, str]) -> str:
    return run_fresh(BACKEND, env).stdout.strip().splitlines()[-1]


def test_importing_fraudops_first_picks_jemalloc() -> None:
    assert backend({}) == "jemalloc"


@pytest.mark.parametrize("chosen", ["system", "mimalloc"])
def test_an_allocator_set_by_the_user_wins(chosen: str) -> None:
    assert backend({"ARROW_DEFAULT_MEMORY_POOL": chosen}) == chosen
