"""The programs of PyTorch's "Learning PyTorch with Examples", retold for the tests.

Every program fits sin(x) on [-pi, pi] with a cubic-like model and is written once against a
module argument ``torch``: pass the real ``torch`` or ``lazytensor`` and the same lines run on
either.  The tutorials draw their starting values with ``torch.randn``; here the caller passes
them in (``init``), so that both libraries start from the same numbers.  Each program returns
a :class:`Run`: the loss after every step and the final coefficients.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from types import ModuleType
from typing import Sequence

N_POINTS = 2000


@dataclass
class Run:
    """What one training run leaves: one loss per step and the learnt coefficients."""

    losses: list[float]
    coefficients: list[float]


def sine_data(torch: ModuleType):
    """The 2000 points x in [-pi, pi] and their targets sin(x), in float32."""
    x = torch.linspace(-math.pi, math.pi, N_POINTS, dtype=torch.float32)
    return x, torch.sin(x)


def scalars(torch: ModuleType, init: Sequence[float], requires_grad: bool = False) -> list:
    """One 0-d float32 tensor per starting value."""
    return [torch.tensor(float(v), dtype=torch.float32, requires_grad=requires_grad) for v in init]


def polynomial_by_hand(torch: ModuleType, init: Sequence[float], steps: int, lr: float = 1e-6) -> Run:
    """Tensors only: the forward pass, the gradients and the update all written out."""
    x, y = sine_data(torch)
    a, b, c, d = scalars(torch, init)
    losses = []
    for _ in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        residual = y_pred - y
        losses.append(residual.pow(2).sum().item())
        # d(sum r^2)/d(y_pred) = 2r; the chain rule through each monomial gives the rest.
        g = 2.0 * residual
        grads = [g.sum(), (g * x).sum(), (g * x ** 2).sum(), (g * x ** 3).sum()]
        a, b, c, d = [p - lr * gp for p, gp in zip((a, b, c, d), grads)]
    return Run(losses, [p.item() for p in (a, b, c, d)])


def polynomial_autograd(torch: ModuleType, init: Sequence[float], steps: int, lr: float = 1e-6) -> Run:
    """The same fit, with backward() computing the gradients."""
    x, y = sine_data(torch)
    params = scalars(torch, init, requires_grad=True)
    a, b, c, d = params
    losses = []
    for _ in range(steps):
        loss = (a + b * x + c * x ** 2 + d * x ** 3 - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():  # the update itself must not be recorded
            for p in params:
                p -= lr * p.grad
                p.grad = None
    return Run(losses, [p.item() for p in params])


def legendre3_function(torch: ModuleType):
    """An autograd.Function for P3(t) = (5t^3 - 3t) / 2 with its derivative written by hand."""

    class LegendreP3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return 0.5 * (5 * t ** 3 - 3 * t)

        @staticmethod
        def backward(ctx, grad_out):
            (t,) = ctx.saved_tensors
            return grad_out * 1.5 * (5 * t ** 2 - 1)

    return LegendreP3


def polynomial_custom_function(torch: ModuleType, init: Sequence[float], steps: int,
                               lr: float = 5e-6) -> Run:
    """Fit y = a + b * P3(c + d x), P3 a custom autograd.Function."""
    x, y = sine_data(torch)
    params = scalars(torch, init, requires_grad=True)
    a, b, c, d = params
    p3 = legendre3_function(torch).apply
    losses = []
    for _ in range(steps):
        loss = (a + b * p3(c + d * x) - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
    return Run(losses, [p.item() for p in params])


def powers_of_x(torch: ModuleType, x):
    """Columns x, x^2, x^3: a (2000, 3) input for a Linear(3, 1)."""
    return x.unsqueeze(-1).pow(torch.tensor([1, 2, 3]))


def linear_model(torch: ModuleType, init: Sequence[float]):
    """Sequential(Linear(3, 1), Flatten(0, 1)) whose bias is init[0] and weights init[1:]."""
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    with torch.no_grad():
        model[0].bias.copy_(torch.tensor([float(init[0])]))
        model[0].weight.copy_(torch.tensor([[float(v) for v in init[1:]]]))
    return model


def linear_coefficients(model) -> list[float]:
    """(a, b, c, d) read back from the Linear layer."""
    layer = model[0]
    return [layer.bias.item()] + [layer.weight[:, i].item() for i in range(3)]


def polynomial_nn(torch: ModuleType, init: Sequence[float], steps: int, lr: float = 1e-6) -> Run:
    """The polynomial as an nn.Linear on the powers of x, updated by hand."""
    x, y = sine_data(torch)
    xx = powers_of_x(torch, x)
    model = linear_model(torch, init)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(xx), y)
        losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
    return Run(losses, linear_coefficients(model))


def train_with(opt, compute_loss, steps: int) -> list[float]:
    """The optimizer loop every nn tutorial ends with; the loss before each step."""
    losses = []
    for _ in range(steps):
        loss = compute_loss()
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return losses


def polynomial_optim(torch: ModuleType, init: Sequence[float], steps: int, lr: float = 1e-3) -> Run:
    """The nn polynomial again, with RMSprop doing the update."""
    x, y = sine_data(torch)
    xx = powers_of_x(torch, x)
    model = linear_model(torch, init)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    opt = torch.optim.RMSprop(model.parameters(), lr=lr)
    losses = train_with(opt, lambda: loss_fn(model(xx), y), steps)
    return Run(losses, linear_coefficients(model))


def cubic_module(torch: ModuleType, init: Sequence[float]):
    """A custom nn.Module holding a, b, c, d as Parameters."""

    class Cubic(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c, self.d = [torch.nn.Parameter(t) for t in scalars(torch, init)]

        def forward(self, x):
            return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    return Cubic()


def polynomial_module(torch: ModuleType, init: Sequence[float], steps: int, lr: float = 1e-6) -> Run:
    """A custom nn.Module trained with SGD."""
    x, y = sine_data(torch)
    model = cubic_module(torch, init)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = train_with(opt, lambda: loss_fn(model(x), y), steps)
    return Run(losses, [p.item() for p in (model.a, model.b, model.c, model.d)])


def dynamic_module(torch: ModuleType, init: Sequence[float], rng: random.Random):
    """A module whose forward adds e * x^4 and maybe e * x^5, chosen afresh each call.

    The graph changes from step to step while the same Parameter ``e`` is reused, which is
    what the tutorial's "dynamic net" shows.
    """

    class DynamicNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c, self.d, self.e = [torch.nn.Parameter(t) for t in scalars(torch, init)]

        def forward(self, x):
            y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
            for power in range(4, rng.randint(4, 6)):
                y = y + self.e * x ** power
            return y

    return DynamicNet()


def dynamic_net(torch: ModuleType, init: Sequence[float], steps: int, seed: int = 0,
                lr: float = 1e-8) -> Run:
    """The dynamic net trained with SGD and momentum; ``seed`` fixes its random graph choices."""
    x, y = sine_data(torch)
    model = dynamic_module(torch, init, random.Random(seed))
    loss_fn = torch.nn.MSELoss(reduction="sum")
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = train_with(opt, lambda: loss_fn(model(x), y), steps)
    return Run(losses, [p.item() for p in (model.a, model.b, model.c, model.d, model.e)])


PROGRAMS = {
    "tensors": polynomial_by_hand,
    "autograd": polynomial_autograd,
    "custom_function": polynomial_custom_function,
    "nn": polynomial_nn,
    "optim": polynomial_optim,
    "module": polynomial_module,
    "dynamic_net": dynamic_net,
}
