"""Each example runs (reduced size) in a subprocess and its loss falls."""
import os
import re
import subprocess
import sys

import pytest

import lazytensor as lt
from helpers import available_devices

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_autograd = pytest.mark.skipif(not hasattr(lt, "no_grad"), reason="autograd not landed yet")


def _run(script, *args, timeout=300):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@needs_autograd
@pytest.mark.parametrize("device", available_devices())
def test_digits_mlp_loss_falls(device, tmp_path):
    pytest.importorskip("sklearn")
    png = tmp_path / "loss.png"
    out = _run("digits_mlp.py", "--device", device, "--steps", "30", "--no-progress", "--plot", str(png))
    first, last = map(float, re.search(r"loss: first ([0-9.]+), last ([0-9.]+)", out).groups())
    assert last < 0.8 * first, out
    assert "test accuracy" in out and "kernels compiled" in out and "time per step" in out
    assert png.exists() and png.stat().st_size > 1000


@needs_autograd
def test_char_transformer_loss_falls():
    out = _run("char_transformer.py", "--device", "numpy", "--steps", "12", "--context", "16",
               "--batch-size", "8", "--d-model", "16", "--layers", "1", "--sample-chars", "10")
    losses = [float(v) for v in re.findall(r"step\s+\d+\s+loss\s+([0-9.]+)", out)]
    assert len(losses) >= 2 and losses[-1] < losses[0], out
    assert "sample:" in out


@needs_autograd
@pytest.mark.skipif(not hasattr(getattr(lt, "autograd", None), "Function"), reason="no lt.autograd.Function")
def test_custom_function_loss_falls():
    out = _run("custom_function.py", "--device", "numpy", "--steps", "200")
    losses = [float(v) for v in re.findall(r"step\s+\d+\s+loss\s+([0-9.]+)", out)]
    assert len(losses) == 2 and losses[1] < losses[0], out
    assert "Result: y =" in out


@needs_autograd
@pytest.mark.parametrize("device", available_devices())
def test_the_demo_writes_the_report_of_a_training_step(device, tmp_path):
    out = _run("demo.py", "--device", device, "--report", str(tmp_path / "report"))
    path = re.search(r"the report of one training step: (\S+)", out).group(1)
    page = open(path).read()
    assert path.startswith(str(tmp_path)) and "training-step" in page and "stored because" in page


@needs_autograd
def test_digits_cnn_learns_from_its_data_loader():
    pytest.importorskip("sklearn")
    out = _run("digits_cnn.py", "--quick")
    losses = [float(v) for v in re.findall(r"epoch\s+\d+\s+loss\s+([0-9.]+)", out)]
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)%", out).group(1)) / 100
    assert len(losses) == 2 and losses[1] < losses[0], out
    # 20 steps reach about 75%; an untrained net scores about 10% (chance) on 10 classes.
    assert accuracy > 0.5, out
    assert "kernels compiled" in out and "time per step" in out
