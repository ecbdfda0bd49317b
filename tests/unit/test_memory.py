"""Memory settings of every process that imports fraudops first, unless the user set them:
Arrow's allocator is jemalloc, numpy's big arrays are not put on transparent huge pages.

Each case runs in a fresh interpreter: Arrow and numpy read their setting once, when they load.
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


HUGE_PAGES = "import fraudops, numpy._core.multiarray as m; print(m._get_madvise_hugepage())"


def huge_pages(env: dict[str, str]) -> str:
    return run_fresh(HUGE_PAGES, env).stdout.strip().splitlines()[-1]


def test_importing_fraudops_first_keeps_numpy_off_huge_pages() -> None:
    assert huge_pages({}) == "False"


def test_huge_pages_asked_for_by_the_user_stay() -> None:
    assert huge_pages({"NUMPY_MADVISE_HUGEPAGE": "1"}) == "True"
