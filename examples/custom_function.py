"""The custom autograd Function two-layer net from the PyTorch tutorials ("Defining new autograd
Functions"): y = a + b * P3(c + d * x), P3 the Legendre polynomial of degree 3, fit to sin(x).

Run: python examples/custom_function.py [--device cl|numpy] [--steps 2000]
"""
from __future__ import annotations

import argparse
import math

import lazytensor as lt


class LegendrePolynomial3(lt.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default=None)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=5e-6)
    args = parser.parse_args(argv)
    if args.device:
        lt.set_default_device(args.device)
    x = lt.linspace(-math.pi, math.pi, 2000)
    y = lt.sin(x)
    a = lt.full((), 0.0, requires_grad=True)
    b = lt.full((), -1.0, requires_grad=True)
    c = lt.full((), 0.0, requires_grad=True)
    d = lt.full((), 0.3, requires_grad=True)
    losses = []
    for t in range(args.steps):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with lt.no_grad():
            for p in (a, b, c, d):
                p -= args.lr * p.grad
                p.grad = None
        if t % 100 == 99 or t == args.steps - 1:
            losses.append(loss.item())
            print(f"step {t + 1:5d}  loss {losses[-1]:.4f}")
    print(f"Result: y = {a.item():.4f} + {b.item():.4f} * P3({c.item():.4f} + {d.item():.4f} x)")
    return {"losses": losses}


if __name__ == "__main__":
    main()
