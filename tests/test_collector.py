"""Importing lazytensor leaves the objects that exist then out of later full collections
(lazytensor/collector.py); LT_GC_FREEZE=0 leaves the collector as it is."""
import os
import subprocess
import sys

_PROBE = ("import gc; before = gc.get_freeze_count(); import lazytensor; "
          "print(before, gc.get_freeze_count(), gc.isenabled())")


def _counts(**env) -> tuple[int, int, bool]:
    done = subprocess.run([sys.executable, "-c", _PROBE], env=dict(os.environ, **env), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    before, after, enabled = done.stdout.split()
    return int(before), int(after), enabled == "True"


def test_importing_lazytensor_freezes_the_objects_that_exist_then():
    before, after, enabled = _counts(LT_GC_FREEZE="1")
    assert before == 0 and after > 10_000  # the interpreter's modules, NumPy's, lazytensor's
    assert enabled  # the collector still runs for everything made later


def test_lt_gc_freeze_0_leaves_the_collector_as_it_is():
    assert _counts(LT_GC_FREEZE="0") == (0, 0, True)


def test_values_made_after_import_are_still_collected():
    code = ("import gc, weakref, lazytensor\n"
            "class Cycle: pass\n"
            "a = Cycle(); a.me = a; probe = weakref.ref(a); del a\n"
            "gc.collect(); print(probe() is None)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "True"
