"""Shape and movement ops, compared with torch on contiguous and
non-contiguous (permuted) inputs."""
import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import check, check_cases, compare, values

pytestmark = pytest.mark.usefixtures("env")

X3 = values((2, 3, 4), seed=5)

# Each op is fn(m, x) with x of shape (2, 3, 4).
VIEWS = {
    "reshape": lambda m, x: x.reshape(6, 4),
    "reshape_minus1": lambda m, x: x.reshape(-1, 2),
    "reshape_tuple": lambda m, x: x.reshape((4, -1)),
    "reshape_to_1d": lambda m, x: x.reshape(-1),
    "reshape_add_ones": lambda m, x: x.reshape(1, 2, 1, 12),
    "view": lambda m, x: x.view(3, 8),
    "view_minus1": lambda m, x: x.view(-1),
    "permute": lambda m, x: x.permute(2, 0, 1),
    "permute_tuple_neg": lambda m, x: x.permute((-1, -3, -2)),
    "transpose": lambda m, x: x.transpose(0, 2),
    "transpose_neg": lambda m, x: m.transpose(x, -1, -2),
    "mT": lambda m, x: x.mT,
    "t_2d": lambda m, x: x[0].t(),
    "T_2d": lambda m, x: x[0].T,
    "unsqueeze": lambda m, x: x.unsqueeze(1),
    "unsqueeze_neg": lambda m, x: m.unsqueeze(x, -1),
    "squeeze_all": lambda m, x: x[:, :1, None].squeeze(),
    "squeeze_dim": lambda m, x: x[:, :1].squeeze(1),
    "squeeze_non_one_dim_is_noop": lambda m, x: x.squeeze(0),
    "flatten": lambda m, x: x.flatten(),
    "flatten_start": lambda m, x: m.flatten(x, 1),
    "flatten_start_end": lambda m, x: x.flatten(0, 1),
    "unflatten": lambda m, x: x.unflatten(2, (2, 2)),
    "unflatten_minus1": lambda m, x: x.unflatten(1, (-1, 1)),
    "contiguous": lambda m, x: x.contiguous(),
    "expand": lambda m, x: x[:, :1].expand(2, 5, 4),
    "expand_minus1_new_dim": lambda m, x: x[:, :1].expand(3, -1, 2, -1),
    "expand_as": lambda m, x: x[:1].expand_as(x),
    "narrow": lambda m, x: x.narrow(2, 1, 2),
    "narrow_fn": lambda m, x: m.narrow(x, 0, 1, 1),
}

COPIES = {
    "flip": lambda m, x: x.flip(0),
    "flip_dims": lambda m, x: m.flip(x, (0, 2)),
    "roll": lambda m, x: x.roll(1, 2),
    "roll_negative_multi": lambda m, x: m.roll(x, (-1, 2), (0, 1)),
    "roll_flat": lambda m, x: x.roll(5),
    "repeat": lambda m, x: x.repeat(2, 1, 1),
    "repeat_more_dims": lambda m, x: x.repeat(2, 1, 2, 1),
    "tril": lambda m, x: x.tril(),
    "triu": lambda m, x: m.triu(x),
    "tril_diagonal": lambda m, x: m.tril(x, diagonal=-1),
    "triu_diagonal": lambda m, x: x.triu(diagonal=2),
    "pad_last": lambda m, x: m.nn.functional.pad(x, (1, 2)),
    "pad_two_dims_value": lambda m, x: m.nn.functional.pad(x, (0, 1, 2, 0), value=-3.5),
    "pad_constant_mode": lambda m, x: m.nn.functional.pad(x, (1, 1, 1, 1, 1, 1), mode="constant", value=1.0),
    "pad_negative_crops": lambda m, x: m.nn.functional.pad(x, (-1, 1)),
}

SPLITS = {
    "chunk": lambda m, x: x.chunk(2, dim=2),
    "chunk_uneven": lambda m, x: m.chunk(x, 2, dim=1),
    "split_int": lambda m, x: x.split(3, dim=2),
    "split_list": lambda m, x: m.split(x, [1, 2], dim=1),
    "unbind": lambda m, x: x.unbind(1),
    "unbind_fn": lambda m, x: m.unbind(x),
}

JOINS = {
    "cat_dim0": lambda m, x: m.cat([x, x * 2], dim=0),
    "cat_neg_dim": lambda m, x: m.cat((x, x[..., :1], x + 1), dim=-1),
    "cat_default_dim": lambda m, x: m.cat([x[:1], x]),
    "cat_with_empty": lambda m, x: m.cat([x[:, :0], x], dim=1),
    "stack_dim0": lambda m, x: m.stack([x, x - 1]),
    "stack_last": lambda m, x: m.stack((x[0], x[1], x[0]), dim=-1),
    "stack_mid": lambda m, x: m.stack([x, x], dim=1),
    "where_broadcast": lambda m, x: m.where(x > 0, x, x[:1, :1] * 0),
}

GROUPS = {"views": VIEWS, "copies": COPIES, "splits": SPLITS, "joins": JOINS}


@pytest.mark.parametrize("group", GROUPS)
def test_shape_op_contiguous(group):
    check_cases(GROUPS[group], lambda fn: compare(fn, X3))


def _permuted(fn):
    """Same op on a non-contiguous (permuted) input of the same shape."""
    def wrapped(m, base):
        return fn(m, base.permute(1, 2, 0))
    return wrapped


# view() of a permuted tensor raises in torch; the rest must work on any strides.
NONCONTIG = {**{k: v for k, v in VIEWS.items() if not k.startswith("view")}, **COPIES, **SPLITS, **JOINS}


@pytest.mark.parametrize("group", ["views", "copies", "splits_joins"])
def test_shape_op_noncontiguous(group):
    names = {"views": VIEWS, "copies": COPIES, "splits_joins": {**SPLITS, **JOINS}}[group]
    base = np.ascontiguousarray(X3.transpose(2, 0, 1))      # (4, 2, 3); permuted back to (2, 3, 4)
    check_cases({k: v for k, v in NONCONTIG.items() if k in names},
                lambda fn: compare(_permuted(fn), base))


def test_chained_views_and_strided_slices():
    compare(lambda m, x: x[:, ::2].transpose(0, 1).reshape(-1).flip(0)[1::3], X3)
    compare(lambda m, x: x.permute(2, 0, 1)[1:].reshape(3, -1).t().contiguous(), X3)
    compare(lambda m, x: x.unsqueeze(0).expand(3, 2, 3, 4).sum(0), X3)


ZERO_D_AND_EMPTY = {
    "0d_reshape": lambda m, x: x[0, 0, 0].reshape(1, 1),
    "0d_unsqueeze": lambda m, x: x[0, 0, 0].unsqueeze(0),
    "0d_flatten": lambda m, x: x[0, 0, 0].flatten(),
    "0d_expand": lambda m, x: x[0, 0, 0].expand(3, 2),
    "empty_reshape": lambda m, x: x[:, :0].reshape(0, 4),
    "empty_permute": lambda m, x: x[:0].permute(2, 1, 0),
    "empty_cat": lambda m, x: m.cat([x[:0], x[:0]]),
    "empty_flip": lambda m, x: x[:, :0].flip(1),
}


def test_shape_ops_on_0d_and_zero_size():
    check_cases(ZERO_D_AND_EMPTY, lambda fn: compare(fn, X3))


def test_view_of_noncontiguous_raises_like_torch():
    x = lt.tensor(X3).permute(1, 2, 0)
    with pytest.raises(RuntimeError):
        x.view(-1)
    check(x.reshape(-1), torch.from_numpy(X3).permute(1, 2, 0).reshape(-1))


def test_shape_attributes_of_views():
    x = lt.tensor(X3)
    assert tuple(x.permute(2, 0, 1).shape) == (4, 2, 3)
    assert x.unsqueeze(0).ndim == 4
    assert x.expand(5, 2, 3, 4).numel() == 120
    assert x.reshape(-1).size(0) == 24
