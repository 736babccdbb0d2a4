"""Kernel benchmarks: lazytensor (cl, numpy) against hand-written NumPy and PyTorch eager, one table.

Run:
    python benchmarks/bench_kernels.py                      # every workload, full size
    python benchmarks/bench_kernels.py --only matmul1024,sum --rounds 3
    python benchmarks/bench_kernels.py --device numpy       # lazytensor on one device only
    python benchmarks/bench_kernels.py --quick              # tiny sizes, seconds (CI: non-zero exit on any
                                                            # exception or mismatch)
    python benchmarks/bench_kernels.py --only mlp_first_step,generate   # first calls only

Every contestant of a workload is warmed up first (so compiles are excluded), then the
contestants run round-robin for --rounds rounds and each cell is the median time.
lazytensor's time includes forcing the result (`.realize()` and `lt.synchronize()`).
Each lazytensor result (and the NumPy one) is compared once with PyTorch's: the `check`
column says `ok` or names the contestant that disagrees. Ratios are time / time (below 1
means lazytensor is faster). `rate` is GB/s read for the reductions (and % of the read
bandwidth measured at the top), GFLOP/s for matmul-like rows, tokens/s for BERT.
Errors appear as E1, E2, ... in the table, with the messages below it.

First-call rows (benchmarks/bench_first_call.py measures them, each in fresh processes):
`mlp_first_step cold` is the first SGD step of mlp_step's MLP in a process whose kernel caches
(lazytensor's and PoCL's) start empty, opening the device included, `... warm` the same in a
second process over the cache the first one filled; `torch ms` is torch's first step in a fresh process. Their `lt rate`
column says how many programs that process built (unit `built`): a warm one should build 0.
`lengths one`/`varying` are the steady AdamW step of char_step's transformer trained at one
length and over 20 lengths, each in a fresh process, beside torch's over the lengths, with
the kernels each compiled as its rate (unit `compiled`).
`generate cold`/`warm` are the totals of greedy generation with a growing sequence (64
tokens; 8 with --quick), `generate steady` the median time per token of the second half
(warm process; not with --quick), with tokens/s as the rates; `check` compares the loss / the
tokens with torch's. These rows are in the default table (lazytensor on cl; --quick has only
mlp_first_step's; --no-first-call leaves them out) and run by name in --only.
"""
from __future__ import annotations

import os

# The contestants take turns, and torch's OpenMP and NumPy's OpenBLAS thread pools keep spinning
# for a while after each call, stealing the cores of whoever runs next (measured here: a 1024^2
# matmul 2x slower for both). Make idle threads sleep at once; set before numpy/torch load them.
# Processes that run alone (bench_first_call's) drop what is set here: BENCH_TURN_TAKING names it.
_TURN_TAKING = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}
os.environ["BENCH_TURN_TAKING"] = ",".join(k for k in _TURN_TAKING if k not in os.environ)
for _name, _value in _TURN_TAKING.items():
    os.environ.setdefault(_name, _value)

import argparse  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import lazytensor as lt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import bert_encoder  # noqa: E402  (the encoder written once for lazytensor and torch)
from char_model import char_model as _char_model  # noqa: E402
import bench_first_call  # noqa: E402  (the first-call rows, measured in fresh processes)

LT_DEVICES = ("cl", "numpy")
CONTESTANTS = ("lt:cl", "lt:cl jit", "lt:numpy", "numpy", "torch")
QUICK_FIRST_CALL = ("mlp_first_step",)  # --quick's first-call rows (generate --quick takes ~25 s more: by name)


# ---- workloads --------------------------------------------------------------------------------
@dataclass
class Workload:
    """`inputs(quick, rng)` -> list of NumPy arrays (or dicts of them); `run(m, *args)` is written once
    for lazytensor and torch (`m` is the module); `setup(m, *tensors)` turns converted inputs into
    run's args (default: as they are); `numpy(*arrays)` is the NumPy version (None: not written)."""
    inputs: Callable
    run: Callable
    numpy: Callable | None
    setup: Callable = lambda m, *ts: ts
    tol: float = 1e-4           # max |result - torch| / max |torch|
    rate: str = ""              # "GB/s", "GFLOP/s", "tokens/s" or ""
    work: Callable = lambda *arrays: 0.0  # bytes, flops or tokens per call, from the inputs
    grad: bool = False          # runs with autograd on (a training step); else under no_grad
    jit: bool = False           # also run as lt.jit(run) ("lt:cl jit": replays of its captured kernels)
    restart: Callable | None = None  # restart(m, *args, arrays): back to the first step's state, in place
    capturable: bool = False    # setup(..., capturable=True) keeps the optimizer's step count on the device


def _f32(rng, *shape, uniform=False):
    """float32 samples of N(0, 1), or of U[0, 1) (sums then have no cancellation to blur a check)."""
    return rng.random(shape, dtype=np.float32) if uniform else rng.standard_normal(shape, dtype=np.float32)


def _F(m):
    return m.nn.functional


def _np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _np_gelu_tanh(y):
    return 0.5 * y * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (y + 0.044715 * y * y * y)))


def _np_ln_gelu(x, w, b, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(-1, keepdims=True)
    return _np_gelu_tanh(centered / np.sqrt(var + eps) * w + b)


def _np_conv2d(x, w, b):
    """3x3, stride 1, padding 1 as im2col + one matmul."""
    n, c, h, wd = x.shape
    k, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))  # n c h w kh kw
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * wd, c * kh * kw)
    out = cols @ w.reshape(k, c * kh * kw).T + b
    return np.ascontiguousarray(out.reshape(n, h, wd, k).transpose(0, 3, 1, 2))


def _ln_gelu_inputs(quick, rng):
    rows, d = (64, 48) if quick else (8192, 768)
    return [_f32(rng, rows, d), _f32(rng, d), _f32(rng, d)]


def _linear_inputs(quick, rng):
    n = 64 if quick else 1024
    return [_f32(rng, n, n), _f32(rng, n, n), _f32(rng, n)]


def _conv_inputs(quick, rng):
    batch, channels, size = (2, 8, 10) if quick else (16, 64, 56)
    return [_f32(rng, batch, channels, size, size), _f32(rng, channels, channels, 3, 3) * 0.1, _f32(rng, channels)]


def _conv_flops(x, w, b):
    return 2.0 * x.shape[0] * w.shape[0] * w[0].size * x.shape[2] * x.shape[3]


def _matmul(n_full, n_quick):
    return Workload(
        inputs=lambda q, rng: [_f32(rng, n, n) for n in [n_quick if q else n_full] * 2],
        run=lambda m, a, b: a @ b, numpy=lambda a, b: a @ b, rate="GFLOP/s",
        work=lambda a, b: 2.0 * a.shape[0] * a.shape[1] * b.shape[1])


def _bert_config(quick):
    if quick:
        return bert_encoder.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                       intermediate_size=64, max_position_embeddings=16)
    return bert_encoder.BertConfig(vocab_size=1000, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                                   intermediate_size=1536, max_position_embeddings=64)


def _bert_inputs(quick, rng):
    """Token ids and one set of random weights (PyTorch's initialisation), as NumPy arrays."""
    config = _bert_config(quick)
    batch, tokens = (2, 8) if quick else (8, 64)
    torch.manual_seed(0)
    weights = {k: v.numpy().copy() for k, v in bert_encoder.build(torch)(config).state_dict().items()}
    return [rng.integers(0, config.vocab_size, (batch, tokens)), weights, config]


def _bert_setup(m, ids, weights, config):
    model = bert_encoder.build(m)(config)
    model.load_state_dict(weights)
    model.eval()
    return ids, model


def _chain(x, n: int = 1000):
    """n chained adds: what recording one small op costs (lazy: nothing runs until the end)."""
    for _ in range(n):
        x = x + 1.0
    return x


def _mlp_sizes(quick):
    return ((64, 32, 32, 10), 16) if quick else ((784, 512, 512, 10), 256)


def _mlp(m, sizes):
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [m.nn.Linear(a, b), m.nn.ReLU()]
    return m.nn.Sequential(*layers[:-1])


def _mlp_inputs(quick, rng):
    """A batch, its labels and one set of initial weights (PyTorch's initialisation)."""
    sizes, batch = _mlp_sizes(quick)
    torch.manual_seed(0)
    weights = {k: v.numpy().copy() for k, v in _mlp(torch, sizes).state_dict().items()}
    return [_f32(rng, batch, sizes[0]), rng.integers(0, sizes[-1], (batch,)), weights, sizes]


def _mlp_setup(m, x, labels, weights, sizes):
    net = _mlp(m, sizes)
    net.load_state_dict(weights)
    return x, labels, net, m.optim.SGD(net.parameters(), lr=0.01)


def _restart_training(m, *args_and_arrays):
    """Put a training workload's weights back and zero its optimizer state, in place (the
    jitted step keeps replaying on the same tensors)."""
    *args, arrays = args_and_arrays
    net, opt, weights = args[-2], args[-1], arrays[2]
    net.load_state_dict({k: _convert(v, lambda a: m.tensor(a)) for k, v in weights.items()})
    with m.no_grad():
        for state in opt.state.values():
            for value in state.values():
                if isinstance(value, m.Tensor):
                    value.zero_()
                elif isinstance(value, float):
                    raise TypeError("a step count kept in Python cannot be restarted in place")


def _char_sizes(quick):
    """vocab, context, d_model, heads, layers, batch (the issue's character transformer)."""
    return (16, 8, 32, 4, 1, 2) if quick else (65, 64, 128, 4, 2, 16)


def _char_inputs(quick, rng):
    vocab, context, *_, batch = sizes = _char_sizes(quick)
    torch.manual_seed(0)
    weights = {k: v.numpy().copy() for k, v in _char_model(torch, *sizes[:5]).state_dict().items()}
    ids = rng.integers(0, vocab, (batch, context + 1))
    return [ids[:, :-1].copy(), ids[:, 1:].copy(), weights, sizes]


def _char_setup(m, x, y, weights, sizes, capturable=False):
    net = _char_model(m, *sizes[:5])
    net.load_state_dict(weights)
    extra = {"capturable": True} if capturable else {}
    return x, y, net, m.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=0.01, **extra)


def _char_step(m, x, y, net, opt):
    """One AdamW step of the character transformer; the loss before the update."""
    opt.zero_grad()
    logits = net(x)
    loss = m.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    loss.backward()
    opt.step()
    return loss


def _cnn(m, channels):
    """A LeNet-like classifier of 28x28 images: two 3x3 convolutions, each with a ReLU and a 2x2
    max pool, the first batch-normalised, then a linear layer. The first convolution has no
    bias, as usual before a batch norm: its gradient would be rounding noise (the norm takes
    out the mean), which Adam turns into steps of the full learning rate."""
    c1, c2 = channels
    nn = m.nn
    return nn.Sequential(nn.Conv2d(1, c1, 3, padding=1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(c2 * 7 * 7, 10))


def _cnn_inputs(quick, rng):
    """A batch of images, its labels and one set of initial weights (PyTorch's initialisation)."""
    channels, batch = ((4, 8), 4) if quick else ((16, 32), 64)
    torch.manual_seed(0)
    weights = {k: v.numpy().copy() for k, v in _cnn(torch, channels).state_dict().items()}
    return [_f32(rng, batch, 1, 28, 28), rng.integers(0, 10, (batch,)), weights, channels]


def _cnn_setup(m, x, labels, weights, channels, capturable=False):
    net = _cnn(m, channels)
    net.load_state_dict(weights)
    extra = {"capturable": True} if capturable else {}
    return x, labels, net, m.optim.Adam(net.parameters(), lr=1e-3, **extra)


def _mlp_step(m, x, labels, net, opt):
    """One optimizer step of a classifier with cross-entropy (the MLP's SGD, the CNN's Adam); the
    loss before the update."""
    opt.zero_grad()
    loss = m.nn.functional.cross_entropy(net(x), labels)
    loss.backward()
    opt.step()
    return loss


def workloads() -> dict[str, Workload]:
    return {
        "elementwise": Workload(
            inputs=lambda q, rng: [_f32(rng, 2 ** (12 if q else 24))],
            run=lambda m, x: (((x * 0.5 + 1).exp() * x - x * x).tanh() + 0.25),
            numpy=lambda x: np.tanh(np.exp(x * 0.5 + 1) * x - x * x) + 0.25),
        "sum": Workload(
            inputs=lambda q, rng: [_f32(rng, 2 ** (12 if q else 24), uniform=True)],
            run=lambda m, x: x.sum(), numpy=lambda x: x.sum(), rate="GB/s", work=lambda x: x.nbytes),
        "sum_dim1": Workload(
            inputs=lambda q, rng: [_f32(rng, *((64, 64) if q else (4096, 4096)), uniform=True)],
            run=lambda m, x: x.sum(1), numpy=lambda x: x.sum(1), rate="GB/s", work=lambda x: x.nbytes),
        "softmax": Workload(
            inputs=lambda q, rng: [_f32(rng, *((64, 32) if q else (4096, 1024)))],
            run=lambda m, x: x.softmax(-1), numpy=_np_softmax),
        "ln_gelu": Workload(
            inputs=_ln_gelu_inputs,
            run=lambda m, x, w, b: _F(m).gelu(_F(m).layer_norm(x, (x.shape[-1],)) * w + b, approximate="tanh"),
            numpy=_np_ln_gelu),
        "matmul1024": _matmul(1024, 64),
        "matmul2048": _matmul(2048, 96),
        "linear_relu": Workload(
            inputs=_linear_inputs,
            run=lambda m, x, w, b: (x @ w + b).relu(), numpy=lambda x, w, b: np.maximum(x @ w + b, 0),
            rate="GFLOP/s", work=lambda x, w, b: 2.0 * x.shape[0] * x.shape[1] * w.shape[1]),
        "conv2d": Workload(
            inputs=_conv_inputs, run=lambda m, x, w, b: _F(m).conv2d(x, w, b, padding=1), numpy=_np_conv2d,
            rate="GFLOP/s", work=_conv_flops),
        "chain1000": Workload(
            inputs=lambda q, rng: [_f32(rng, 4, 4)], run=lambda m, x: _chain(x), numpy=_chain, jit=True),
        "mlp_step": Workload(
            inputs=_mlp_inputs, setup=_mlp_setup, run=_mlp_step, numpy=None, grad=True, tol=1e-5,
            jit=True, restart=_restart_training),
        "cnn_step": Workload(
            inputs=_cnn_inputs, setup=_cnn_setup, run=_mlp_step, numpy=None, grad=True, tol=1e-4,
            jit=True, restart=_restart_training, capturable=True),
        "char_step": Workload(
            inputs=_char_inputs, setup=_char_setup, run=_char_step, numpy=None, grad=True, tol=1e-4,
            jit=True, restart=_restart_training, capturable=True),
        "bert": Workload(
            inputs=_bert_inputs, setup=_bert_setup, run=lambda m, ids, model: model(ids), numpy=None,
            tol=1e-3, rate="tokens/s", work=lambda ids, weights, config: float(ids.size), jit=True),
    }


# ---- contestants --------------------------------------------------------------------------------
def _convert(value, to):
    if isinstance(value, np.ndarray):
        return to(value)
    if isinstance(value, dict):
        return {k: _convert(v, to) for k, v in value.items()}
    if isinstance(value, list):
        return [_convert(v, to) for v in value]
    return value  # e.g. a config


def lt_contestant(wl: Workload, arrays, dev: str) -> Callable:
    """A function that runs the workload on lazytensor `dev` and waits for it; called with
    fetch=True it returns the result as a NumPy array."""
    lt.set_default_device(dev)
    with lt.no_grad():
        args = wl.setup(lt, *_convert(arrays, lambda a: lt.tensor(a, device=dev).realize()))

    def call(fetch=False):
        lt.set_default_device(dev)  # modules (BERT's arange) create tensors on the default device
        with lt.set_grad_enabled(wl.grad):
            out = wl.run(lt, *args).realize()
        lt.synchronize(dev)
        return out.numpy() if fetch else None
    return call


def lt_jit_contestant(wl: Workload, arrays, dev: str) -> Callable:
    """lt.jit(run) on `dev`, called until it replays (and, for a training step, restarted in
    place so that the checked call is a replay of the first step)."""
    lt.set_default_device(dev)
    with lt.no_grad():
        tensors = _convert(arrays, lambda a: lt.tensor(a, device=dev).realize())
        args = wl.setup(lt, *tensors, **({"capturable": True} if wl.capturable else {}))
    step = lt.jit(lambda *a: wl.run(lt, *a))
    warming = [True]

    def call(fetch=False):
        lt.set_default_device(dev)
        replays = step.replays
        with lt.set_grad_enabled(wl.grad):
            out = step(*args)
        lt.synchronize(dev)
        if step.replays == replays and not warming[0]:
            raise RuntimeError("lt.jit ran the step instead of replaying it (DEBUG=1 says why)")
        return out.numpy() if fetch else None
    for _ in range(2):  # a plain call, then the capture
        call()
    warming[0] = False
    if wl.restart is not None:
        wl.restart(lt, *args, arrays)
    return call


def torch_contestant(wl: Workload, arrays) -> Callable:
    with torch.no_grad():
        args = wl.setup(torch, *_convert(arrays, torch.from_numpy))

    def call(fetch=False):
        with torch.set_grad_enabled(wl.grad):
            out = wl.run(torch, *args)
        return out.detach().numpy() if fetch else None
    return call


def numpy_contestant(wl: Workload, arrays) -> Callable:
    def call(fetch=False):
        out = wl.numpy(*arrays)
        return np.asarray(out) if fetch else None
    return call


def contestants(wl: Workload, arrays, devices) -> dict[str, Callable | Exception]:
    """name -> callable (or the exception raised while setting it up)."""
    makers = {f"lt:{d}": (lambda d=d: lt_contestant(wl, arrays, d)) for d in devices}
    if wl.jit and "cl" in devices:
        makers["lt:cl jit"] = lambda: lt_jit_contestant(wl, arrays, "cl")
    if wl.numpy is not None:
        makers["numpy"] = lambda: numpy_contestant(wl, arrays)
    makers["torch"] = lambda: torch_contestant(wl, arrays)
    out = {}
    for name, make in makers.items():
        try:
            out[name] = make()
        except Exception as e:  # noqa: BLE001 - reported in the table
            out[name] = e
    return out


# ---- measuring -----------------------------------------------------------------------------------
def rel_error(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return math.inf
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-30)
    return float(np.abs(got - want).max(initial=0.0)) / scale  # NaN anywhere gives NaN: not <= tol


def warm_and_check(fns: dict, tol: float) -> tuple[dict, list[str]]:
    """Run each contestant twice (compile, then cached), compare with torch's result once.
    Returns (name -> callable or exception, names that disagree with torch)."""
    results = {}
    for name, fn in list(fns.items()):
        if isinstance(fn, Exception):
            continue
        try:
            results[name] = fn(fetch=True)
            fn()
        except Exception as e:  # noqa: BLE001 - reported in the table
            fns[name] = e
    ref = results.get("torch")
    if ref is None:
        return fns, ["unchecked(no torch result)"]
    bad = []
    for name, result in results.items():
        err = rel_error(result, ref)
        if name != "torch" and not err <= tol:
            bad.append(f"{name}({err:.1e})")
    return fns, bad


def time_round_robin(fns: dict, rounds: int) -> dict[str, float | Exception]:
    """Median seconds per contestant; the contestants take turns within each round."""
    times: dict[str, list[float]] = {n: [] for n, f in fns.items() if not isinstance(f, Exception)}
    out: dict[str, float | Exception] = {n: f for n, f in fns.items() if isinstance(f, Exception)}
    for _ in range(rounds):
        for name in list(times):
            try:
                start = time.perf_counter()
                fns[name]()
                times[name].append(time.perf_counter() - start)
            except Exception as e:  # noqa: BLE001 - reported in the table
                out[name] = e
                del times[name]
    out.update({n: statistics.median(ts) for n, ts in times.items()})
    return out


def bandwidth(nbytes: int, rounds: int) -> dict[str, float]:
    """GB/s of a read (a sum) and of a copy (read + written bytes) of `nbytes`, by NumPy (one
    thread) and by torch (all its threads); 'read' and 'copy' are the better of the two."""
    src = np.ones(nbytes // 4, np.float32)
    dst = np.empty_like(src)
    t_src, t_dst = torch.from_numpy(src), torch.from_numpy(dst)
    runs = {"numpy read": (src.sum, nbytes), "numpy copy": (lambda: np.copyto(dst, src), 2 * nbytes),
            "torch read": (t_src.sum, nbytes), "torch copy": (lambda: t_dst.copy_(t_src), 2 * nbytes)}
    out = {}
    for name, (fn, moved) in runs.items():
        fn()  # touch the pages
        out[name] = moved / statistics.median(_seconds(fn) for _ in range(rounds)) / 1e9
    out["read"] = max(out["numpy read"], out["torch read"])
    out["copy"] = max(out["numpy copy"], out["torch copy"])
    return out


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ---- the table -----------------------------------------------------------------------------------
class Errors:
    """Collects exception messages; a cell shows E<n>, the same message keeps its number."""

    def __init__(self):
        self.messages: dict[str, list[str]] = {}  # message -> where it happened

    def cell(self, where: str, e: Exception) -> str:
        message = f"{type(e).__name__}: {_summary(str(e))}"
        self.messages.setdefault(message, []).append(where)
        return f"E{list(self.messages).index(message) + 1}"

    def lines(self) -> list[str]:
        return [f"E{i + 1} ({', '.join(where)}): {m}" for i, (m, where) in enumerate(self.messages.items())]


def _summary(text: str, limit: int = 300) -> str:
    """The first line of an error, plus its first line saying 'error' (e.g. an OpenCL build log's)."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()] or [""]
    detail = next((ln for ln in lines[1:] if "error" in ln.lower()), "")
    return (lines[0][:limit] + (f" | {detail[:limit]}" if detail else ""))


def _ms(t) -> str:
    return "-" if t is None else f"{t * 1e3:.3f}"


def _ratio(a, b) -> str:
    return f"{a / b:.2f}" if isinstance(a, float) and isinstance(b, float) else "-"


def _rate(wl: Workload, work: float, t) -> str:
    if not wl.rate or not isinstance(t, float):
        return "-"
    value = work / t
    return f"{value / 1e9:.1f}" if wl.rate in ("GB/s", "GFLOP/s") else f"{value:.0f}"


def table_row(name: str, wl: Workload, work: float, times: dict, bad: list[str], read_bw: float,
              devices: list[str], errors: Errors) -> list[str]:
    def cell(c):
        t = times.get(c)
        if isinstance(t, Exception):
            return errors.cell(f"{name} {c}", t)
        return _ms(t)
    # lt's rate: the first device (cl) that has a time, marked when it is not the first
    dev = next((d for d in devices if isinstance(times.get(f"lt:{d}"), float)), devices[0])
    t_lt, t_torch = times.get(f"lt:{dev}"), times.get("torch")
    lt_rate = _rate(wl, work, t_lt) + (f" ({dev})" if dev != devices[0] and wl.rate else "")
    pct = f"{100 * work / t_lt / 1e9 / read_bw:.0f}%" if wl.rate == "GB/s" and isinstance(t_lt, float) else "-"
    return [name, *(cell(c) for c in CONTESTANTS),
            _ratio(times.get("lt:cl"), t_torch), _ratio(times.get("lt:cl jit"), t_torch),
            _ratio(times.get("lt:numpy"), times.get("numpy")),
            _ratio(times.get("lt:cl"), times.get("numpy")),
            wl.rate or "-", lt_rate, _rate(wl, work, t_torch), pct,
            "MISMATCH " + " ".join(bad) if bad else "ok"]


def _first_call_row(name: str, t_lt, t_torch, errors: Errors, unit: str = "-", lt_rate: str = "-",
                    torch_rate: str = "-", check: str = "ok") -> list[str]:
    """A first-call row in the table's columns: lt:cl and torch times, cl/torch, a rate."""
    cell = lambda t, c: errors.cell(f"{name} {c}", t) if isinstance(t, Exception) else _ms(t)  # noqa: E731
    return [name, cell(t_lt, "lt:cl"), "-", "-", "-", cell(t_torch, "torch"), _ratio(t_lt, t_torch), "-", "-", "-",
            unit, lt_rate, torch_rate, "-", check]


def first_call_rows(name: str, quick: bool, errors: Errors, notes: list[str]) -> tuple[list[list[str]], bool]:
    """The rows of first-call workload `name` (bench_first_call.ROWS), and whether any failed;
    a line for below the table goes to `notes`."""
    with tempfile.TemporaryDirectory() as cache:  # empty: the first process is cold
        try:
            r = bench_first_call.measure(name, cache, quick)
        except Exception as e:  # noqa: BLE001 - reported in the table
            return [_first_call_row(f"{name} cold", e, None, errors, check="-")], True
    if name == "mlp_first_step":
        want = r["torch"]["loss"]
        bad = [f"{k}({err:.1e})" for k in ("cold", "warm")
               if not (err := abs(r[k]["loss"] - want) / max(abs(want), 1e-30)) <= 1e-5]
        check = "MISMATCH " + " ".join(bad) if bad else "ok"
        return [_first_call_row(f"{name} {k}", r[k]["seconds"], r["torch"]["seconds"], errors, "built",
                                str(r[k]["programs_built"]), check=check) for k in ("cold", "warm")], bool(bad)
    if name == "lengths":
        return _lengths_rows(r, errors, notes), not r["same"]
    check = "ok" if r["same"] else "MISMATCH tokens differ from torch's"
    total, steady = r["total"], r["steady"]
    notes.append(f"generate: {bench_first_call.kernel_growth(r)}")
    rows = [_first_call_row(f"{name} {k}", total[k], total["torch"], errors, "built", str(r[k]["programs_built"]),
                            check=check) for k in ("cold", "warm")]
    if not quick:  # 8 tokens have no steady half
        rows.append(_first_call_row(f"{name} steady", steady["lt"], steady["torch"], errors, "tokens/s",
                                    f"{1 / steady['lt']:.0f}", f"{1 / steady['torch']:.0f}", check))
    return rows, not r["same"]


def _lengths_rows(r: dict, errors: Errors, notes: list[str]) -> list[list[str]]:
    """Training at one length and over many: the steady step beside torch's over the lengths,
    with the kernels each compiled as the rate (unit `compiled`)."""
    check = "ok" if r["same"] else "MISMATCH losses differ from torch's"
    one, varying = r["one"]["kernels_compiled"], r["varying"]["kernels_compiled"]
    notes.append(f"lengths: {varying} kernels compiled over {r['lengths']} lengths, {one} at one "
                 f"length ({varying / one:.2f}x; the target is at most 2x)")
    return [_first_call_row(f"lengths {k}", r["steady"][k], r["steady"]["torch"], errors, "compiled",
                            str(r[k]["kernels_compiled"]), check=check) for k in ("one", "varying")]


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if i in (0, len(r) - 1) else c.rjust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths)))
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def machine_info() -> None:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout if shutil.which("lscpu") else ""
    fields = {k.strip(): v.strip() for k, v in (ln.split(":", 1) for ln in lscpu.splitlines() if ":" in ln)}
    cores = int(fields.get("Core(s) per socket", 0)) * int(fields.get("Socket(s)", 0)) or "?"
    print(f"cpu: {fields.get('Model name', '?')}, {cores} cores, {os.cpu_count()} logical cpus; "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}")
    try:
        from lazytensor.runtime.devices import get_device
        print(f"opencl: {lt.device('cl')!r} = {get_device('cl')!r}")
    except Exception as e:  # noqa: BLE001 - the table shows the cl errors too
        print(f"opencl: unavailable ({type(e).__name__}: {e})")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes, 2 rounds; exit 1 on any error or mismatch")
    p.add_argument("--only", default="", help="comma-separated workload names: "
                   + ",".join([*workloads(), *bench_first_call.ROWS]))
    p.add_argument("--no-first-call", action="store_true", help="leave out the first-call rows (by default in the "
                   "table unless --only names workloads)")
    p.add_argument("--rounds", type=int, default=None, help="timed rounds per workload (default 7; 2 with --quick)")
    p.add_argument("--device", default="all", choices=["cl", "numpy", "all"], help="lazytensor device(s)")
    args = p.parse_args(argv)
    args.rounds = args.rounds or (2 if args.quick else 7)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    table = workloads()
    devices = list(LT_DEVICES) if args.device == "all" else [args.device]
    first_call = ([] if args.no_first_call or "cl" not in devices  # lazytensor on cl only
                  else list(QUICK_FIRST_CALL if args.quick else bench_first_call.ROWS))
    names = [n.strip() for n in args.only.split(",") if n.strip()] or [*table, *first_call]
    unknown = [n for n in names if n not in table and n not in bench_first_call.ROWS]
    if unknown:
        sys.exit(f"unknown workload(s) {unknown}; choose from {[*table, *bench_first_call.ROWS]}")

    machine_info()
    bw_bytes = (16 if args.quick else 256) << 20
    bw = bandwidth(bw_bytes, 3 if args.quick else 7)
    read_bw = bw["read"]
    print(f"bandwidth ({bw_bytes >> 20} MB float32): read {bw['read']:.1f} GB/s, copy {bw['copy']:.1f} GB/s "
          f"(read: numpy sum {bw['numpy read']:.1f}, torch sum {bw['torch read']:.1f}; copy, read + written bytes: "
          f"np.copyto {bw['numpy copy']:.1f}, torch copy_ {bw['torch copy']:.1f})")
    print(f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']} "
          f"OPENBLAS_THREAD_TIMEOUT={os.environ['OPENBLAS_THREAD_TIMEOUT']} (idle thread pools sleep)")
    print(f"rounds: {args.rounds}, times in ms (median), ratios = time / time; lt rate and % read bw use lt:{devices[0]}\n")

    header = ["workload", *(f"{c} ms" for c in CONTESTANTS), "cl/torch", "jit/torch", "ltnp/numpy", "cl/numpy",
              "unit", "lt rate", "torch rate", "% read bw", "check"]
    rows, errors, failed, notes = [], Errors(), False, []
    for name in names:
        if name in bench_first_call.ROWS:
            first_rows, bad_first = first_call_rows(name, args.quick, errors, notes)
            rows += first_rows
            failed |= bad_first
            print(f"  done {name}", file=sys.stderr, flush=True)
            continue
        wl = table[name]
        arrays = wl.inputs(args.quick, np.random.default_rng(0))  # the same inputs whatever --only says
        fns, bad = warm_and_check(contestants(wl, arrays, devices), wl.tol)
        times = time_round_robin(fns, args.rounds)
        rows.append(table_row(name, wl, wl.work(*arrays), times, bad, read_bw, devices, errors))
        failed |= bool(bad) or any(isinstance(t, Exception) for t in times.values())
        print(f"  done {name}", file=sys.stderr, flush=True)
    print_table(header, rows)
    for line in notes + errors.lines():
        print(line)
    if args.quick and failed:
        print("FAILED: an exception or a mismatch above (--quick exits 1)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
