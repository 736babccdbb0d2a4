"""Bad input raises at the op call (not at realisation), with a message that
names the op and the shapes; the tensors involved stay usable."""
import re

import numpy as np
import pytest
import torch

import lazytensor as lt
from helpers import available_devices, check

pytestmark = pytest.mark.usefixtures("env")

ERRORS = (RuntimeError, ValueError, TypeError, IndexError)
SHAPE_2_3 = r"2, 3|2x3"   # "(2, 3)", "[2, 3]" or torch's "2x3"

# name -> (fn(a, b) that must raise, regexes the message must all match)
# a = lt.ones(2, 3), b = lt.ones(4, 5)
CASES = {
    "add_shape_mismatch": (lambda a, b: a + b, [r"add|\+", SHAPE_2_3, r"4, 5"]),
    "matmul_inner_dims": (lambda a, b: a @ b, [r"matmul|mm|@", SHAPE_2_3, r"4, 5"]),
    "cat_mismatch": (lambda a, b: lt.cat([a, b]), [r"cat", SHAPE_2_3]),
    "stack_mismatch": (lambda a, b: lt.stack([a, a.t()]), [r"stack", SHAPE_2_3]),
    "reshape_incompatible": (lambda a, b: a.reshape(4, 5), [r"reshape|view", SHAPE_2_3 + r"|\b6\b", r"4, 5"]),
    "sum_bad_dim": (lambda a, b: a.sum(dim=5), [r"sum", r"\b5\b"]),
    "softmax_bad_dim": (lambda a, b: a.softmax(dim=-3), [r"softmax", r"-3"]),
    "permute_bad_dims": (lambda a, b: a.permute(0, 0), [r"permute"]),
    "expand_bad_size": (lambda a, b: a.expand(4, 3), [r"expand", SHAPE_2_3]),
    "index_out_of_range": (lambda a, b: lt.ones(3)[10], [r"index|getitem", r"\b10\b", r"\b3\b"]),
    "bitwise_and_float": (lambda a, b: a & a, [r"and|&", r"(?i)float"]),
    "invert_float": (lambda a, b: ~a, [r"not|~|invert", r"(?i)float"]),
    "where_shape_mismatch": (lambda a, b: lt.where(a > 0, a, b), [r"where", SHAPE_2_3]),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_raises_at_call(name):
    fn, patterns = CASES[name]
    a, b = lt.ones(2, 3), lt.ones(4, 5)
    with pytest.raises(ERRORS) as info:
        fn(a, b)          # no realisation: must raise here even with LAZY on
    msg = str(info.value)
    for pat in patterns:
        assert re.search(pat, msg), f"message {msg!r} does not match {pat!r}"
    # the tensors involved are still usable
    check(a * 2 + a.sum(), torch.full((2, 3), 8.0))
    check(b.sum(dim=0), torch.full((5,), 4.0))


def test_unknown_device_raises():
    with pytest.raises(ERRORS, match="tpu"):
        lt.zeros(2, device="tpu")
    with pytest.raises(ERRORS, match="tpu"):
        lt.ones(2).to("tpu")
    check(lt.zeros(2), torch.zeros(2))


def test_mixing_devices_raises_naming_both():
    if len(available_devices()) < 2:
        pytest.skip("needs both the numpy and cl devices")
    a, b = lt.ones(2, device="numpy"), lt.ones(2, device="cl")
    with pytest.raises(ERRORS) as info:
        a + b
    assert "numpy" in str(info.value) and "cl" in str(info.value)
    check(a + a, torch.full((2,), 2.0))
    check(b + b, torch.full((2,), 2.0))


def test_error_does_not_poison_later_graphs():
    x = lt.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    y = x * 3
    with pytest.raises(ERRORS):
        y + lt.ones(3, 2)
    check(y.sum(), torch.tensor(45.0))
    check(x, torch.arange(6.0).reshape(2, 3))
