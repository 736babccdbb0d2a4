"""Size-0 tensors through every op family, as PyTorch defines them: the same shapes and
values (empty, or a reduction's identity), and gradients of the input's (empty) shape."""
import pytest
import torch

import lazytensor as lt
from helpers import check

pytestmark = pytest.mark.usefixtures("env")

PROGRAMS = {
    "cat_rows": lambda m: m.cat([m.zeros(0, 3), m.ones(1, 3)]) * 2 + 1,
    "cat_cols": lambda m: m.cat([m.zeros(2, 0), m.ones(2, 3)], 1),
    "stack": lambda m: m.stack([m.zeros(0, 3), m.zeros(0, 3)]),
    "pad_empty_rows": lambda m: m.nn.functional.pad(m.zeros(0, 3), (1, 1)),
    "pad_empty_cols": lambda m: m.nn.functional.pad(m.zeros(2, 0), (1, 2), value=5.0),
    "softmax_of_no_rows": lambda m: m.zeros(0, 3).softmax(-1),
    "softmax_over_an_empty_dim": lambda m: m.zeros(3, 0).softmax(-1),
    "log_softmax_over_an_empty_dim": lambda m: m.zeros(3, 0).log_softmax(-1),
    "logsumexp_over_an_empty_dim": lambda m: m.zeros(3, 0).logsumexp(1),
    "sum_over_empty": lambda m: m.zeros(0, 3).sum(0),
    "sum_all": lambda m: m.zeros(0, 3).sum(),
    "sum_keepdim": lambda m: m.zeros(3, 0).sum(1, keepdim=True),
    "prod_over_empty": lambda m: m.zeros(0, 3).prod(0),
    "mean_over_empty": lambda m: m.zeros(0, 3).mean(0),
    "matmul_inner_0": lambda m: m.zeros(2, 0) @ m.zeros(0, 3),
    "matmul_outer_0": lambda m: m.zeros(0, 4) @ m.ones(4, 3),
    "batched_matmul_0": lambda m: m.zeros(0, 2, 3) @ m.ones(0, 3, 4),
    "einsum_inner_0": lambda m: m.einsum("ij,jk->ik", m.zeros(2, 0), m.zeros(0, 3)),
    "reshape": lambda m: m.zeros(0, 3).reshape(3, 0, 1),
    "expand": lambda m: m.zeros(1, 0).expand(4, 0),
    "select_column": lambda m: m.zeros(0, 3)[:, 1],
    "empty_slice": lambda m: m.arange(5.0)[3:1],
    "flip": lambda m: m.zeros(0, 3).flip(0),
    "transpose_then_add": lambda m: m.zeros(0, 3).t() + 1,
    "where": lambda m: m.where(m.zeros(0, 3) > 0, m.zeros(0, 3), 1.0),
    "cumsum": lambda m: m.zeros(0, 3).cumsum(0),
    "sort": lambda m: m.zeros(0).sort()[0],
    "layer_norm": lambda m: m.nn.functional.layer_norm(m.zeros(0, 4), (4,)),
    "linear": lambda m: m.nn.functional.linear(m.zeros(0, 4), m.ones(3, 4), m.ones(3)),
    "gather_nothing": lambda m: m.ones(2, 3).gather(1, m.zeros(2, 0, dtype=m.int64)),
    "index_with_no_indices": lambda m: m.ones(3, 2)[m.tensor([], dtype=m.int64)],
    "pad_of_empty_then_strided_writes": lambda m: _strided_writes(
        m, m.nn.functional.pad(m.zeros(2, 0, requires_grad=True), (1, 2))).detach(),
}


def _strided_writes(m, v):
    """Found by the fuzzer: a fused kernel gathers from an empty buffer."""
    v = (-v).clone()
    v[::2] *= 3
    root = (v * v + 1).sqrt()
    v = root.clone()
    v[::2] *= 3
    both = m.cat([v, v], -1)
    return (both * m.linspace(0.5, 1.5, both.numel()).reshape(both.shape)).sum() + root.sum()


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_size_zero_programs_match_torch(name):
    program = PROGRAMS[name]
    check(program(lt), program(torch))


GRADIENTS = {
    "cat": lambda m, x: m.cat([x, m.ones(1, 3)]) * 2,
    "pad": lambda m, x: m.nn.functional.pad(x, (1, 1)) * 3,
    "sum": lambda m, x: x.sum(0),
    "matmul": lambda m, x: x.t() @ m.ones(0, 2),
    "softmax": lambda m, x: x.softmax(0),
    "mean": lambda m, x: x.mean(1),
    "index": lambda m, x: x[:, [0, 2]],
}


@pytest.mark.parametrize("name", list(GRADIENTS))
def test_gradients_of_size_zero_inputs_match_torch(name):
    grads = []
    for m in (lt, torch):
        x = m.zeros(0, 3, requires_grad=True)
        GRADIENTS[name](m, x).sum().backward()
        grads.append(x.grad)
    check(*grads)
