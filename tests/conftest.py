"""Shared fixtures for the lazytensor forward-op tests.

Tests that take the ``env`` fixture run four times: on the "numpy" and "cl"
devices, each with LAZY on and off.  "cl" is skipped when no OpenCL device
can be opened.
"""
import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
for _p in (_ROOT, _HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from helpers import DEVICES, cl_unavailable_reason, using  # noqa: E402


def _plans_of_this_process() -> None:
    """Each test process (each xdist worker too) keeps realisation plans of its own
    (runtime/plan_cache.py): a plan that an earlier run or another worker wrote would decide
    which realisations build a schedule here. The folder goes when the process ends."""
    import atexit
    import shutil
    import tempfile
    os.environ["LT_PLAN_DIR"] = tempfile.mkdtemp(prefix="lt-plans-")
    atexit.register(shutil.rmtree, os.environ["LT_PLAN_DIR"], True)


_plans_of_this_process()


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state, whichever tests (and xdist worker) ran
    before it: a test that draws without a seed of its own sees the same numbers every run."""
    import numpy as np
    import lazytensor as lt
    lt.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(params=DEVICES)
def device(request):
    """The device name a test runs on; "cl" skips without OpenCL."""
    if request.param == "cl":
        reason = cl_unavailable_reason()
        if reason:
            pytest.skip(f"OpenCL device unavailable: {reason}")
    return request.param


@pytest.fixture(params=[True, False], ids=["lazy", "eager"])
def lazy(request):
    """LAZY mode on (True) or off (False)."""
    return request.param


@pytest.fixture
def env(device, lazy):
    """Make ``device`` the default device and set LAZY; restore afterwards."""
    with using(device, lazy) as e:
        yield e
