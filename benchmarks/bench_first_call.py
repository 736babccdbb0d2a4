"""First calls and growing shapes: what a fresh process pays before it runs at speed.

    python benchmarks/bench_first_call.py            # every row
    python benchmarks/bench_first_call.py --only generate
    python benchmarks/bench_first_call.py --quick    # tiny sizes (the MLP of bench_kernels --quick, 8 tokens)

bench_kernels.py prints the same rows in its table (`measure` below), e.g.
    python benchmarks/bench_kernels.py --only mlp_first_step,generate

Rows (each in fresh processes, lazytensor on `cl`, beside PyTorch eager in the same run):
  mlp_first_step  the first SGD step of the 784-512-512-10 MLP: cold (an empty kernel cache)
                  and warm (a second process over the cache that the first one filled), with
                  the programs each built; lazytensor's times include opening the device
                  (its probe builds a kernel), as a script's first call pays it
  generate        greedy generation of 64 tokens from a 2-layer GPT (d_model 64, 4 heads,
                  context 64): the sequence grows by one token per step, so every step is a
                  new shape; kernels compiled per token, cold and warm totals, and the steady
                  rate (tokens 33..64) against torch's
  lengths         AdamW steps of bench_kernels' character transformer (d_model 128, batch 16)
                  on batches of 20 lengths (45..64, each once, then 10 steps at lengths met
                  already), against 30 steps at one length: kernels compiled (the target is at
                  most twice one length's) and the steady step (the median of the last 10)
                  beside torch's over the same lengths
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

GPT = dict(vocab=65, context=64, d_model=64, heads=4, layers=2)
TOKENS = 64
QUICK_TOKENS = 8
# the character transformer of bench_kernels' char_step, trained on batches of 16 sequences
CHAR = dict(vocab=65, context=64, d_model=128, heads=4, layers=2, batch=16)
LENGTHS = 20  # steps, each at its own length (45..64), or all at one length (64)
ROWS = ("mlp_first_step", "generate", "lengths")


def _tokens(quick: bool) -> int:
    return QUICK_TOKENS if quick else TOKENS


def _mlp_first_step(m, quick: bool = False) -> dict:
    import numpy as np
    from bench_kernels import _convert, _mlp_inputs, _mlp_setup, _mlp_step
    arrays = _mlp_inputs(quick, np.random.default_rng(0))
    start = time.perf_counter()
    args = _mlp_setup(m, *_convert(arrays, m.tensor))
    loss = float(_mlp_step(m, *args))
    return {"seconds": time.perf_counter() - start, "loss": loss}


def _gpt(m):
    from char_model import char_model
    m.manual_seed(0)
    return char_model(m, GPT["vocab"], GPT["context"], GPT["d_model"], GPT["heads"], GPT["layers"]).eval()


def _generate(m, quick: bool = False, weights: str | None = None) -> dict:
    """Greedy tokens, and seconds per token (each step's logits read back: the next id). torch
    writes its initial weights to `weights` (an .npz); lazytensor reads them from there, so its
    process never imports torch."""
    import numpy as np
    net = _gpt(m)
    if m.__name__ == "torch":
        if weights:
            np.savez(weights, **{k: v.numpy() for k, v in net.state_dict().items()})
    else:
        if not weights:
            raise ValueError("generate: lazytensor's run reads torch's weights (BENCH_WEIGHTS); run the "
                             "benchmark through measure_generate, which runs torch first")
        with np.load(weights) as stored:
            net.load_state_dict({k: m.tensor(stored[k]) for k in stored.files})
    compiled = (lambda: 0) if m.__name__ == "torch" else (lambda: __import__("lazytensor").runtime.stats.STATS.kernels_compiled)
    idx = m.tensor([[1]])
    times, tokens, kernels = [], [], []
    with m.no_grad():
        for _ in range(_tokens(quick)):
            start = time.perf_counter()
            logits = net(idx[:, -GPT["context"]:])
            nxt = int(logits[0, -1].argmax())
            times.append(time.perf_counter() - start)
            tokens.append(nxt)
            kernels.append(compiled())
            idx = m.cat([idx, m.tensor([[nxt]])], 1)
    return {"seconds": times, "tokens": tokens, "kernels_by_token": kernels}


REPEATS = 10  # steps after the lengths, at lengths met already: the steady rate


def _lengths(quick: bool, varying: bool) -> list[int]:
    """Each length once (shuffled), then REPEATS steps at lengths met already; or as many
    steps at one length."""
    import numpy as np
    count, top = (4, 8) if quick else (LENGTHS, CHAR["context"])
    rng = np.random.default_rng(1)
    lengths = rng.permutation(np.arange(top - count + 1, top + 1))
    again = rng.choice(lengths, REPEATS)
    return [int(n) for n in (*lengths, *again)] if varying else [top] * (count + REPEATS)


def _train_lengths(m, quick: bool = False, varying: bool = True, weights: str | None = None) -> dict:
    """AdamW steps of the character transformer, each on a batch of its own length (or all of
    one length): seconds and loss per step, and the kernels compiled by the end. torch writes its
    initial weights to `weights`; lazytensor reads them, as _generate does."""
    import numpy as np
    from char_model import char_model
    c = CHAR if not quick else dict(CHAR, d_model=32, layers=1, batch=2, context=8)
    m.manual_seed(0)
    net = char_model(m, c["vocab"], c["context"], c["d_model"], c["heads"], c["layers"])
    if m.__name__ == "torch":
        if weights:
            np.savez(weights, **{k: v.numpy() for k, v in net.state_dict().items()})
    elif weights:
        with np.load(weights) as stored:
            net.load_state_dict({k: m.tensor(stored[k]) for k in stored.files})
    opt = m.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=0.01)
    rng = np.random.default_rng(0)
    times, losses = [], []
    for length in _lengths(quick, varying):
        ids = m.tensor(rng.integers(0, c["vocab"], (c["batch"], length + 1)))
        start = time.perf_counter()
        opt.zero_grad()
        logits = net(ids[:, :-1])
        loss = m.nn.functional.cross_entropy(logits.reshape(-1, c["vocab"]), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        losses.append(float(loss))
        times.append(time.perf_counter() - start)
    return {"seconds": times, "losses": losses}


def child(row: str, lib: str, quick: bool = False) -> dict:
    """One measurement in this (fresh) process, as JSON-able numbers."""
    opened = 0.0
    if lib == "torch":
        import torch
        torch.set_num_threads(os.cpu_count() or 1)
        m = torch
    else:
        import lazytensor as m
        from lazytensor.runtime.stats import STATS
        start = time.perf_counter()
        m.set_default_device("cl")  # opening the device (probing it builds a kernel) is a first call's too
        opened = time.perf_counter() - start
    if row == "generate":
        out = _generate(m, quick, os.environ.get("BENCH_WEIGHTS"))
        out["seconds"][0] += opened
    elif row.startswith("lengths"):  # lengths-one or lengths-varying
        out = _train_lengths(m, quick, row.endswith("varying"), os.environ.get("BENCH_WEIGHTS"))
    else:
        out = _mlp_first_step(m, quick)
        out["seconds"] += opened
    if lib != "torch":
        out["programs_built"] = STATS.programs_built
        out["kernels_compiled"] = STATS.kernels_compiled
        out["device_seconds"] = opened
    return out


def _run_child(row: str, lib: str, cache: str, quick: bool = False, weights: str = "") -> dict:
    # an empty machine: lazytensor's cache and PoCL's own kernel cache both start empty
    env = dict(os.environ, LT_CACHE_DIR=cache, POCL_CACHE_DIR=os.path.join(cache, "pocl"), BENCH_WEIGHTS=weights)
    for name in filter(None, env.pop("BENCH_TURN_TAKING", "").split(",")):
        env.pop(name, None)  # bench_kernels' settings for contestants taking turns: this one runs alone
    argv = [sys.executable, os.path.abspath(__file__), "--child", row, lib] + (["--quick"] if quick else [])
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{row} on {lib} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def measure_mlp(cache: str, quick: bool = False) -> dict:
    """The first MLP step: lazytensor cold (`cache` empty), warm (a second process over the cache
    the first one filled), and torch; each the child's dict (seconds, loss, programs_built)."""
    return {"cold": _run_child("mlp_first_step", "lt", cache, quick),
            "warm": _run_child("mlp_first_step", "lt", cache, quick),
            "torch": _run_child("mlp_first_step", "torch", cache, quick)}


def measure_generate(cache: str, quick: bool = False) -> dict:
    """Greedy generation, cold, warm and torch as for measure_mlp, plus `same` (all three chose the
    same tokens), `total` (seconds of all tokens, per run) and `steady` (median seconds per token
    of the second half: the warm process's and torch's)."""
    weights = os.path.join(os.path.dirname(cache.rstrip(os.sep)) or ".", f"gpt_weights_{os.getpid()}.npz")
    try:  # torch first: it writes the weights that lazytensor then loads
        runs = {"torch": _run_child("generate", "torch", cache, quick, weights)}
        runs.update(cold=_run_child("generate", "lt", cache, quick, weights),
                    warm=_run_child("generate", "lt", cache, quick, weights))
    finally:
        if os.path.exists(weights):
            os.remove(weights)
    half = _tokens(quick) // 2
    return {**runs, "same": runs["cold"]["tokens"] == runs["torch"]["tokens"] == runs["warm"]["tokens"],
            "total": {k: sum(r["seconds"]) for k, r in runs.items()},
            "steady": {k: _median(runs[run]["seconds"][half:]) for k, run in (("lt", "warm"), ("torch", "torch"))}}


def measure_lengths(cache: str, quick: bool = False) -> dict:
    """Training over batches of LENGTHS lengths against all at one length, each in a fresh
    process over an empty cache: lazytensor's kernels compiled and its steady step time (the
    median of the last REPEATS steps, at lengths met already), torch's over the lengths, and
    whether the losses agree."""
    weights = os.path.join(os.path.dirname(cache.rstrip(os.sep)) or ".", f"char_weights_{os.getpid()}.npz")
    try:
        runs = {"torch": _run_child("lengths-varying", "torch", cache, quick, weights)}
        for kind in ("one", "varying"):
            with tempfile.TemporaryDirectory() as empty:
                runs[kind] = _run_child(f"lengths-{kind}", "lt", empty, quick, weights)
    finally:
        if os.path.exists(weights):
            os.remove(weights)
    steady = {k: _median(r["seconds"][-REPEATS:]) for k, r in runs.items()}
    import numpy as np
    same = bool(np.allclose(runs["varying"]["losses"], runs["torch"]["losses"], rtol=1e-3))
    return {**runs, "steady": steady, "same": same, "lengths": len(set(_lengths(quick, True)))}


def measure(row: str, cache: str, quick: bool = False) -> dict:
    """One row's measurements (fresh processes; `cache` must start empty)."""
    return {"mlp_first_step": measure_mlp, "generate": measure_generate, "lengths": measure_lengths}[row](cache, quick)


def kernel_growth(result: dict) -> str:
    """How many kernels the cold run of a measure_generate result had compiled by the end of
    tokens 1, 2, 4, 8, ..., as one line."""
    growth = result["cold"]["kernels_by_token"]
    marks = [i for i in (1, 2, 4, 8, 16, 32, 64) if i <= len(growth)]
    return (f"kernels compiled by the end of tokens {', '.join(map(str, marks))} (cold): "
            f"{[growth[i - 1] for i in marks]}")


def report_mlp(cache: str, quick: bool = False) -> None:
    r = measure_mlp(cache, quick)
    cold, warm, torch_first = r["cold"], r["warm"], r["torch"]
    print(f"| mlp_first_step | cold {cold['seconds']:.2f} s ({cold['programs_built']} programs built, "
          f"{cold['device_seconds']:.2f} s of it opening the device) | warm {warm['seconds']:.2f} s "
          f"({warm['programs_built']} built) | torch {torch_first['seconds']:.2f} s |")


def report_generate(cache: str, quick: bool = False) -> None:
    r = measure_generate(cache, quick)
    cold, warm, total = r["cold"], r["warm"], r["total"]
    print(kernel_growth(r))
    print(f"| generate ({_tokens(quick)} tokens) | cold {total['cold']:.2f} s ({cold['kernels_compiled']} kernels "
          f"compiled, {cold['programs_built']} programs) | warm {total['warm']:.2f} s "
          f"({warm['programs_built']} built) | torch {total['torch']:.2f} s | steady lt/torch tokens/s "
          f"{r['steady']['torch'] / r['steady']['lt']:.2f} | "
          f"tokens {'= torch' if r['same'] else 'DIFFER from torch'} |")


def report_lengths(cache: str, quick: bool = False) -> None:
    r = measure_lengths(cache, quick)
    one, varying, steady = r["one"], r["varying"], r["steady"]
    print(f"| lengths ({len(varying['seconds'])} steps) | one length: {one['kernels_compiled']} kernels compiled, "
          f"{steady['one'] * 1e3:.1f} ms a step | {r['lengths']} lengths: "
          f"{varying['kernels_compiled']} compiled ({varying['kernels_compiled'] / one['kernels_compiled']:.2f}x), "
          f"{steady['varying'] * 1e3:.1f} ms a step | torch {steady['torch'] * 1e3:.1f} ms a step | "
          f"losses {'= torch' if r['same'] else 'DIFFER from torch'} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(ROWS))
    p.add_argument("--quick", action="store_true", help="tiny sizes: the MLP of bench_kernels --quick, 8 tokens")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, quick=args.quick)))
        return 0
    rows = {"mlp_first_step": report_mlp, "generate": report_generate, "lengths": report_lengths}
    for name in args.only.split(","):
        with tempfile.TemporaryDirectory() as cache:  # empty: the first process is cold
            rows[name](cache, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
