"""unique and unique_consecutive: sizes that depend on the data, read from the device as
PyTorch synchronises for them; values, inverse indices and counts as torch's."""
import numpy as np
import pytest

import lazytensor as lt
from helpers import check_cases, compare

pytestmark = pytest.mark.usefixtures("env")

WITH_NAN = np.array([3.0, 1.0, np.nan, 1.0, np.nan, -0.0, 0.0, 3.0], np.float32)
ROWS = np.array([[1, 2], [1, 2], [0, 5], [1, 2], [0, 5], [7, 7]], np.int64)

CASES = {
    "unique": lambda m, x, r: m.unique(x),
    "unique_inverse_counts": lambda m, x, r: m.unique(x, return_inverse=True, return_counts=True),
    "unique_of_a_matrix_keeps_the_inverse_shape": lambda m, x, r: r.unique(return_inverse=True),
    "unique_rows": lambda m, x, r: m.unique(r, dim=0, return_inverse=True, return_counts=True),
    "unique_columns": lambda m, x, r: r.t().unique(dim=1, return_counts=True),
    "unique_of_nothing": lambda m, x, r: m.unique(x[:0], return_counts=True),
    "unique_consecutive": lambda m, x, r: m.unique_consecutive(m.tensor([1, 1, 2, 2, 3, 1, 1, 2])),
    "unique_consecutive_inverse_counts": lambda m, x, r: x.unique_consecutive(return_inverse=True, return_counts=True),
    "unique_consecutive_rows": lambda m, x, r: m.unique_consecutive(r, dim=0, return_inverse=True, return_counts=True),
}


def test_unique_matches_torch():
    """Each NaN is a value of its own, -0.0 and 0.0 are one, rows sort lexicographically."""
    check_cases(CASES, lambda fn: compare(fn, WITH_NAN, ROWS))


def test_a_backward_through_unique_raises_as_in_torch():
    x = lt.tensor([3.0, 1.0, 1.0], requires_grad=True)
    values = lt.unique(x)
    assert values.requires_grad
    with pytest.raises(NotImplementedError, match="the derivative for 'unique' is not implemented"):
        values.sum().backward()
