"""Kernels of one name and different code in one realisation get numbered names, each found
without rendering the kernel once per name taken before it (runtime/engine._render_all)."""
import numpy as np
import lazytensor as lt
from helpers import using


def test_an_unrolled_loop_renders_each_step_kernel_at_most_twice(monkeypatch):
    from lazytensor.runtime import engine
    from lazytensor.runtime.devices import get_device
    steps = 16
    monkeypatch.setattr(engine, "_RENDERED", {})  # as in a fresh process
    monkeypatch.setenv("LT_PLAN_CACHE", "0")  # rendered here, not read from a plan on disk
    with using("numpy", True):
        device = get_device("numpy")
        rendered = []
        render = device.render
        monkeypatch.setattr(device, "render", lambda *args, **kw: rendered.append(args[1]) or render(*args, **kw))
        data = np.random.default_rng(0).standard_normal((steps, 4, 8)).astype(np.float32)
        lp = lt.tensor(data).realize()
        x, want = lp[0], data[0]
        for t in range(1, steps):  # each step a reduction of the last one, plus a row of lp at offset t
            x = lt.stack([x, x.roll(1, -1)], -1).amax(-1) + lp[t]
            want = np.maximum(want, np.roll(want, 1, -1)) + data[t]
        np.testing.assert_allclose(x.numpy(), want, rtol=1e-6)
    assert len(rendered) <= 2 * steps, f"{len(rendered)} renders for {steps} steps: {rendered}"  # was 106
