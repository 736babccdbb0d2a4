"""First calls and growing shapes: what a fresh process pays before it runs at speed.

    python benchmarks/bench_first_call.py            # every row
    python benchmarks/bench_first_call.py --only generate

Rows (each in fresh processes, lazytensor on `cl`, beside PyTorch eager in the same run):
  mlp_first_step  the first SGD step of the 784-512-512-10 MLP: cold (an empty kernel cache)
                  and warm (a second process over the cache that the first one filled), with
                  the programs each built
  generate        greedy generation of 64 tokens from a 2-layer GPT (d_model 64, 4 heads,
                  context 64): the sequence grows by one token per step, so every step is a
                  new shape; kernels compiled per token, cold and warm totals, and the steady
                  rate (tokens 33..64) against torch's
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


def _mlp_first_step(m) -> dict:
    import numpy as np
    from bench_kernels import _convert, _mlp_inputs, _mlp_setup, _mlp_step
    arrays = _mlp_inputs(False, np.random.default_rng(0))
    start = time.perf_counter()
    args = _mlp_setup(m, *_convert(arrays, m.tensor))
    float(_mlp_step(m, *args))
    return {"seconds": time.perf_counter() - start}


def _gpt(m):
    from bench_kernels import _char_model
    m.manual_seed(0)
    return _char_model(m, GPT["vocab"], GPT["context"], GPT["d_model"], GPT["heads"], GPT["layers"]).eval()


def _generate(m) -> dict:
    """Greedy tokens, and seconds per token (each step's logits read back: the next id)."""
    import torch
    net = _gpt(torch)
    if m is not torch:
        model = _gpt(m)
        model.load_state_dict({k: m.tensor(v.numpy()) for k, v in net.state_dict().items()})
        net = model
    compiled = (lambda: 0) if m is torch else (lambda: __import__("lazytensor").runtime.stats.STATS.kernels_compiled)
    idx = m.tensor([[1]])
    times, tokens, kernels = [], [], []
    with m.no_grad():
        for _ in range(TOKENS):
            start = time.perf_counter()
            logits = net(idx[:, -GPT["context"]:])
            nxt = int(logits[0, -1].argmax())
            times.append(time.perf_counter() - start)
            tokens.append(nxt)
            kernels.append(compiled())
            idx = m.cat([idx, m.tensor([[nxt]])], 1)
    return {"seconds": times, "tokens": tokens, "kernels_by_token": kernels}


def child(row: str, lib: str) -> dict:
    """One measurement in this (fresh) process, as JSON-able numbers."""
    if lib == "torch":
        import torch
        torch.set_num_threads(os.cpu_count() or 1)
        m = torch
    else:
        import lazytensor as m
        from lazytensor.runtime.stats import STATS
        m.set_default_device("cl")
    out = {"mlp_first_step": _mlp_first_step, "generate": _generate}[row](m)
    if lib != "torch":
        out["programs_built"] = STATS.programs_built
        out["kernels_compiled"] = STATS.kernels_compiled
    return out


def _run_child(row: str, lib: str, cache: str) -> dict:
    # an empty machine: lazytensor's cache and PoCL's own kernel cache both start empty
    env = dict(os.environ, LT_CACHE_DIR=cache, POCL_CACHE_DIR=os.path.join(cache, "pocl"))
    done = subprocess.run([sys.executable, __file__, "--child", row, lib], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{row} on {lib} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def report_mlp(cache: str) -> None:
    cold = _run_child("mlp_first_step", "lt", cache)
    warm = _run_child("mlp_first_step", "lt", cache)
    torch_first = _run_child("mlp_first_step", "torch", cache)
    print(f"| mlp_first_step | cold {cold['seconds']:.2f} s ({cold['programs_built']} programs built) | "
          f"warm {warm['seconds']:.2f} s ({warm['programs_built']} built) | torch {torch_first['seconds']:.2f} s |")


def report_generate(cache: str) -> None:
    cold = _run_child("generate", "lt", cache)
    warm = _run_child("generate", "lt", cache)
    ref = _run_child("generate", "torch", cache)
    same = cold["tokens"] == ref["tokens"] == warm["tokens"]
    steady_lt, steady_torch = _median(warm["seconds"][32:]), _median(ref["seconds"][32:])
    growth = cold["kernels_by_token"]
    print(f"kernels compiled by the end of tokens 1, 2, 4, 8, 16, 32, 64 (cold): "
          f"{[growth[i - 1] for i in (1, 2, 4, 8, 16, 32, 64)]}")
    print(f"| generate ({TOKENS} tokens) | cold {sum(cold['seconds']):.2f} s ({cold['kernels_compiled']} kernels "
          f"compiled, {cold['programs_built']} programs) | warm {sum(warm['seconds']):.2f} s "
          f"({warm['programs_built']} built) | torch {sum(ref['seconds']):.2f} s | steady lt/torch tokens/s "
          f"{steady_torch / steady_lt:.2f} | tokens {'= torch' if same else 'DIFFER from torch'} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default="mlp_first_step,generate")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    rows = {"mlp_first_step": report_mlp, "generate": report_generate}
    for name in args.only.split(","):
        with tempfile.TemporaryDirectory() as cache:  # empty: the first process is cold
            rows[name](cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
