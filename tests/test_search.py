"""The optional search: candidate choice lists, timed once, the winner kept on disk."""
import numpy as np
import pytest

import lazytensor as lt
from lazytensor import config
from lazytensor.codegen.caps import DeviceCaps
from lazytensor.codegen.heuristic import choose_opts
from lazytensor.codegen.lower import lower_kernel
from lazytensor.codegen.opt import make_plan
from lazytensor.codegen.search import candidate_opts
from lazytensor.ir.schedule import schedule
from lazytensor.runtime import search
from lazytensor.runtime.devices import get_device

from helpers import cl_unavailable_reason

CPU = DeviceCaps(is_cpu=True, compute_units=2, max_work_group_size=4096)
needs_cl = pytest.mark.skipif(cl_unavailable_reason() is not None, reason=str(cl_unavailable_reason()))


def row_sum_kernel(rows=64, cols=1024):
    x = lt.tensor(np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32), device="cl").realize()
    (spec,) = schedule([x.sum(1).node], fuse_row_reductions=True).kernels
    return lower_kernel(spec), spec, x


@needs_cl
def test_candidates_start_with_the_heuristic_and_are_distinct_and_valid():
    kernel, _, _ = row_sum_kernel()
    candidates = candidate_opts(kernel, CPU)
    assert candidates[0] == choose_opts(kernel, CPU)
    assert len(candidates) > 1 and len({tuple(c) for c in candidates}) == len(candidates)
    for opts in candidates:
        make_plan(kernel, opts)


@needs_cl
def test_the_winner_is_kept_on_disk_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("LT_CACHE_DIR", str(tmp_path))
    device = get_device("cl")
    kernel, spec, _ = row_sum_kernel(48, 512)
    chosen = search.searched_opts(device, kernel, spec.key)
    assert chosen in candidate_opts(kernel, device.caps)
    assert len(list((tmp_path / "search").iterdir())) == 1

    def no_timing(*args):
        raise AssertionError("a known kernel is not timed again")
    monkeypatch.setattr(search, "_time", no_timing)
    assert search.searched_opts(device, kernel, spec.key) == chosen


@needs_cl
def test_a_stale_entry_is_searched_again(tmp_path, monkeypatch):
    monkeypatch.setenv("LT_CACHE_DIR", str(tmp_path))
    device = get_device("cl")
    kernel, spec, _ = row_sum_kernel(40, 256)
    search.searched_opts(device, kernel, spec.key)
    (entry,) = (tmp_path / "search").iterdir()
    entry.write_text('[["UPCAST", 9, 16]]')
    assert search.searched_opts(device, kernel, spec.key) in candidate_opts(kernel, device.caps)


@needs_cl
def test_results_under_search_match_numpy(tmp_path, monkeypatch):
    monkeypatch.setenv("LT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(config, "SEARCH", True)
    a = np.random.default_rng(1).standard_normal((33, 700)).astype(np.float32)
    got = lt.tensor(a, device="cl").softmax(-1).numpy()
    e = np.exp(a - a.max(-1, keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)
    assert any((tmp_path / "search").iterdir())
