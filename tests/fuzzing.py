"""A differential fuzzer: random PyTorch-shaped programs, run on torch and on lazytensor.

A program is Python source written once for both libraries (`m` is the module): input
tensors of random shapes (0-d, size-1 and size-0 included), then steps drawn from the op
families below, each kept only if torch accepts it, then a weighted sum of the last value
and, when it carries gradients, its backward. Each program runs on every lazytensor
device and LAZY mode and is compared with torch float32: the result, every input's
gradient, and whether it raises at all. A failing program is shrunk (steps removed while
it still fails) and printed as a script that reproduces it.

    python tests/fuzzing.py --long               # the long run (10,000 programs)
    python tests/fuzzing.py --seed 17 --show      # one program's source

The long run starts a fresh process every --chunk programs: each program compiles new
kernels, and PoCL keeps every kernel it built mapped, so one process that builds tens of
thousands of distinct kernels runs out of memory mappings.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import random
import sys
import textwrap
from dataclasses import dataclass, field

import numpy as np
import torch

import lazytensor as lt
import lazytensor.config as config

SIZES = (0, 1, 2, 3, 5)
UNARY = ("x.tanh()", "x.sigmoid()", "x.sin()", "x.abs()", "-x", "x.relu()", "(x * x + 1).sqrt()", "x.exp().tanh()",
         "m.nn.functional.gelu(x)", "x.clamp(-0.5, 0.7)", "(x.abs() + 1).log()", "x.atan()", "x.asinh()",
         "x.sin().asin()")
BINARY = ("x + y", "x - y", "x * y", "x / (y.abs() + 1)", "m.maximum(x, y)", "m.minimum(x, y)",
          "m.where(x > y, x, y * 2)", "x * (y > 0)", "x + 2.5", "3 - x", "x * -1.5", "m.atan2(x, y)")
# integer tensors made inside a step, mixed with floats: PyTorch's type promotion (int with
# float, int32 with int64, with float64), integer division and remainder, int masks
INTEGER = ("x + (y * 4).long()", "(x * 4).int() * 0.5", "((x * 4).long() // 3) * y", "(x * 4).long().float() / 3",
           "m.where(x > y, (x * 3).int(), y)", "x * (y > 0).int()", "((x * 5).long() % 3) + y",
           "(x * 4).to(m.int32) - y.to(m.float64)", "((x * 4).int() + (y * 4).long()) * 0.25", "x * 2 ** (y > 0).long()")
REDUCE = ("x.sum({d}, keepdim={k})", "x.mean({d}, keepdim={k})", "x.amax({d}, keepdim={k})",
          "x.amin({d}, keepdim={k})", "x.softmax({d})", "x.log_softmax({d})", "x.cumsum({d})")


@dataclass
class Program:
    inputs: list[tuple[int, ...]]
    lines: list[str] = field(default_factory=list)
    backward: bool = True

    def source(self) -> str:
        args = ", ".join(f"x{i}" for i in range(len(self.inputs)))
        body = "\n".join(self.lines) or "pass"
        return f"def program(m, {args}):\n{textwrap.indent(body, '    ')}\n    return v\n"

    def script(self, seed: int) -> str:
        """A runnable reproduction: the program, its inputs, and the comparison."""
        return (f"import numpy as np, torch, lazytensor as lt\n\n{self.source()}\n"
                f"rng = np.random.default_rng({seed})\n"
                f"arrays = [rng.standard_normal(s).astype(np.float32) for s in {self.inputs!r}]\n"
                f"print(program(torch, *map(torch.tensor, arrays)))\n"
                f"print(program(lt, *map(lt.tensor, arrays)))\n")


def inputs(shapes, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


# ---- generating -------------------------------------------------------------------------------
def _shape(rng: random.Random) -> tuple[int, ...]:
    return tuple(rng.choice(SIZES) for _ in range(rng.choice((0, 1, 2, 2, 3))))


def _step(rng: random.Random, names: list[str], shapes: dict[str, tuple], out: str,
          integers: random.Random | None = None) -> list[str]:
    """Lines that compute one new value named `out` from the earlier ones (mostly from the
    latest, so that the steps build on each other). `integers` (its own generator, so that
    the other draws stay those of a program without them) turns some binary steps into
    steps through integer tensors."""
    x = names[-1] if rng.random() < 0.6 else rng.choice(names)
    shape = shapes[x]
    nd = len(shape)
    d = rng.randrange(-nd, nd) if nd else 0
    kind = rng.choice(("unary", "binary", "binary", "reduce", "move", "move", "matmul", "inplace", "join"))
    if kind == "unary":
        expr = rng.choice(UNARY).replace("x", x)
    elif kind == "binary":
        template, y = rng.choice(BINARY), rng.choice(names)
        if integers is not None and integers.random() < 0.4:
            template = integers.choice(INTEGER)
        expr = template.replace("x", x).replace("y", y)
    elif kind == "reduce" and nd:
        expr = rng.choice(REDUCE).format(d=d, k=rng.choice((True, False))).replace("x", x, 1)
    elif kind == "move":
        expr = _movement(rng, x, shape)
    elif kind == "matmul" and nd:
        k = shape[-1]
        other = rng.choice(((k,), (k, rng.choice(SIZES)), (2, k, rng.choice(SIZES))))
        expr = f"{x} @ m.linspace(-1, 1, {math.prod(other)}).reshape({other})"
    elif kind == "inplace" and nd:  # a write through a strided view of a copy
        view = rng.choice(("[::2]", "[..., ::2]", "[-1:]"))
        return [f"{out} = {x}.clone()", f"{out}{view} *= 3"]
    elif kind == "join" and nd:
        other = rng.choice([n for n in names if shapes[n] == shape])
        expr = rng.choice((f"m.cat([{x}, {other}], {d})", f"m.stack([{x}, {other}], {d})"))
    else:
        expr = f"{x} + 1"
    return [f"{out} = {expr}"]


def _movement(rng: random.Random, x: str, shape: tuple) -> str:
    nd = len(shape)
    options = [f"{x}.reshape(-1)", f"{x}.unsqueeze(0)"]
    if nd >= 1:
        widths = (rng.choice((0, 1, 2)), rng.choice((0, 1, 2)))
        options += [f"{x}[::2]", f"{x}[1:]", f"{x}.flip({rng.randrange(nd)})",
                    f"m.nn.functional.pad({x}, {widths})", f"{x}.unsqueeze(-1).expand(*{x}.shape, 2)"]
    if nd >= 2:
        perm = list(range(nd))
        rng.shuffle(perm)
        options += [f"{x}.permute({tuple(perm)})", f"{x}.transpose(0, -1)", f"{x}[1:, ::2]", f"{x}[:, -1]",
                    f"{x}.reshape({shape[0]}, -1)" if shape[0] else f"{x}.reshape(0, -1)"]
    if 1 in shape:
        options.append(f"{x}.squeeze()")
    return rng.choice(options)


def generate(seed: int, steps: int = 6, integers: bool = True) -> Program:
    """A program torch accepts, its shapes found by running each step on torch (`integers`:
    with steps through integer tensors; without, a seed gives the program it gave before
    they were added)."""
    rng = random.Random(seed)
    int_rng = random.Random(f"integers {seed}") if integers else None
    program = Program([_shape(rng) for _ in range(rng.choice((1, 2, 2, 3)))], backward=rng.random() < 0.7)
    env = {f"x{i}": torch.tensor(a) for i, a in enumerate(inputs(program.inputs, seed))}
    names = list(env)
    for i in range(steps * 4):
        if len(program.lines) >= steps:
            break
        out = f"v{i}"
        lines = _step(rng, names, {n: tuple(v.shape) for n, v in env.items()}, out, int_rng)
        trial = dict(env)
        try:
            with warnings_off():
                exec("\n".join(lines), {"m": torch}, trial)
        except Exception:  # noqa: BLE001 - torch refuses: draw another step
            continue
        if not trial[out].is_floating_point():
            continue
        env = trial
        names.append(out)
        program.lines.append("\n".join(lines))
    program.lines.append(" + ".join(f"({v} * m.linspace(0.5, 1.5, {v}.numel()).reshape({v}.shape)).sum()"
                                    for v in dict.fromkeys([names[-1], rng.choice(names)])).join(("v = ", "")))
    return program


@contextlib.contextmanager
def warnings_off():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ---- running and comparing --------------------------------------------------------------------
def run(program: Program, m, arrays: list[np.ndarray]):
    """(result, input gradients) as NumPy, or the exception raised."""
    namespace: dict = {}
    exec(program.source(), {}, namespace)
    xs = [m.tensor(a, requires_grad=program.backward) for a in arrays]
    try:
        with warnings_off():
            out = namespace["program"](m, *xs)
            grads = []
            if program.backward and out.requires_grad:
                out.backward()
                grads = [None if x.grad is None else x.grad.detach().numpy() for x in xs]
            return out.detach().numpy(), grads
    except Exception as e:  # noqa: BLE001 - compared with what torch did
        return e


def mismatch(program: Program, seed: int, device: str, lazy: bool) -> str | None:
    """Why lazytensor disagrees with torch on this program (None if it agrees)."""
    arrays = inputs(program.inputs, seed)
    want = run(program, torch, arrays)
    previous_device, previous_lazy = lt.get_default_device(), config.set_lazy(lazy)
    try:
        lt.set_default_device(device)
        got = run(program, lt, arrays)
    finally:
        lt.set_default_device(previous_device)
        config.set_lazy(previous_lazy)
    if isinstance(want, Exception):
        return None if isinstance(got, Exception) else f"torch raised {type(want).__name__}: {want}; lazytensor did not"
    if isinstance(got, Exception):
        if "matmul: expected m1 and m2 to have the same dtype" in str(got):
            return None  # torch skips that check on some paths (an empty batched product); lazytensor never does
        return f"lazytensor raised {type(got).__name__}: {got}"
    (w, wg), (g, gg) = want, got
    if not _close(g, w):
        return f"result differs: {np.asarray(g).ravel()[:4]} vs torch {np.asarray(w).ravel()[:4]}"
    for i, (a, b) in enumerate(zip(gg, wg)):
        if (a is None) != (b is None) or (a is not None and (a.shape != b.shape or not _close(a, b))):
            return f"gradient of x{i} differs"
    return None


def _close(a, b) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=2e-4, atol=2e-5, equal_nan=True))


def shrink(program: Program, seed: int, device: str, lazy: bool) -> Program:
    """Remove steps while the program still fails (a removal that torch then refuses, a
    later step needing the removed one, does not count)."""
    current = program
    changed = True
    while changed:
        changed = False
        for i in range(len(current.lines) - 1):
            trial = Program(current.inputs, current.lines[:i] + current.lines[i + 1:], current.backward)
            if isinstance(run(trial, torch, inputs(trial.inputs, seed)), Exception):
                continue
            if mismatch(trial, seed, device, lazy) is not None:
                current, changed = trial, True
                break
    return current


MODES = [("numpy", True), ("numpy", False), ("cl", True), ("cl", False)]


def check(seed: int, modes=MODES, integers: bool = True) -> str | None:
    """None, or a report with the shrunk program as a runnable script."""
    program = generate(seed, integers=integers)
    for device, lazy in modes:
        why = mismatch(program, seed, device, lazy)
        if why is not None:
            small = shrink(program, seed, device, lazy)
            return (f"seed {seed} on {device} LAZY={int(lazy)}: {mismatch(small, seed, device, lazy)}\n"
                    f"{small.script(seed)}")
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--programs", type=int, default=300)
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--show", action="store_true", help="print the program of --seed and stop")
    p.add_argument("--chunk", type=int, default=250, help="programs per process (0: all in this one)")
    p.add_argument("--long", action="store_true", help="the long run: 10,000 programs")
    args = p.parse_args(argv)
    if args.long:
        args.programs = 10000
    if args.show:
        print(generate(args.seed).source())
        return 0
    if args.chunk and args.programs > args.chunk:
        return _run_in_chunks(args.seed, args.programs, args.chunk)
    failures = 0
    for n, seed in enumerate(range(args.seed, args.seed + args.programs), 1):
        report = check(seed)
        if report:
            failures += 1
            print(report, flush=True)
        if n % 500 == 0:
            print(f"... {n} programs, {failures} failing", file=sys.stderr, flush=True)
    print(f"{args.programs} programs x {len(MODES)} modes: {failures} failing")
    return 1 if failures else 0


def _run_in_chunks(first: int, programs: int, chunk: int) -> int:
    """Each chunk of seeds in its own process: its reports, and one total."""
    import re
    import subprocess
    failing = 0
    for start in range(first, first + programs, chunk):
        count = min(chunk, first + programs - start)
        out = subprocess.run([sys.executable, __file__, "--seed", str(start), "--programs", str(count), "--chunk", "0"],
                             capture_output=True, text=True)
        total = re.search(r"(\d+) failing\s*$", out.stdout)
        if out.returncode not in (0, 1) or total is None:  # the process itself failed
            failing += 1
            print(f"seeds {start}..{start + count - 1}: the process failed ({out.returncode}): {out.stderr[-2000:]}")
        else:
            failing += int(total.group(1))
            reports = out.stdout.rstrip("\n").split("\n")[:-1]  # all but the child's total
            if reports:
                print("\n".join(reports), flush=True)
        print(f"... {start + count - first} programs, {failing} failing", file=sys.stderr, flush=True)
    print(f"{programs} programs x {len(MODES)} modes: {failing} failing")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
