"""Index arithmetic in the loop IR simplifies as it is built."""
import itertools

import pytest

from lazytensor.codegen import uops as S


ARITHMETIC = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b,
              "idiv": lambda a, b: a // b, "mod": lambda a, b: a % b}


def evaluate(n, env):
    if n.op == "lit":
        return n.arg
    if n.op == "var":
        return env[n]
    a, b = (evaluate(s, env) for s in n.srcs)
    return ARITHMETIC[n.op](a, b)


def ops(n):
    out = {n.op}
    for s in n.srcs:
        out |= ops(s)
    return out


def test_a_sliding_window_index_needs_no_division():
    r, w = S.var("r", 3), S.var("w", 56)  # (59*r + w) % 58: a padded row read through a window
    index = S.add(S.mul(r, 59), w)
    assert ops(S.mod(index, 58)) <= {"add", "var"}
    assert ops(S.floordiv(index, 58)) == {"var"}


@pytest.mark.parametrize("coef, k", [(59, 58), (7, 3), (130, 64), (5, 5), (-3, 4), (2, 8)])
def test_division_and_modulo_keep_their_values(coef, k):
    r, w = S.var("r", 6), S.var("w", 9)
    index = S.add(S.add(S.mul(r, coef), w), 40)
    div, mod = S.floordiv(index, k), S.mod(index, k)
    for vr, vw in itertools.product(range(6), range(9)):
        env = {r: vr, w: vw}
        value = coef * vr + vw + 40
        assert evaluate(div, env) == value // k and evaluate(mod, env) == value % k


_ORDER_PROBE = """
import sys
from lazytensor.codegen import uops as S
r = S.var("r1", 4096)
atoms = {op: S.u(op, S.INDEX, (r, S.lit(32))) for op in sys.argv[1].split(",")}
expr = S.from_linear({atoms["idiv"]: 2048, atoms["mod"]: 1}, 0)
show = lambda n: n.op if not n.srcs else n.op + "(" + ",".join(show(s) for s in n.srcs) + ")"
print(show(expr))
"""


def test_a_sum_of_index_terms_is_ordered_the_same_whatever_was_built_first():
    """Kernel text (and so the disk cache's key) must not depend on where objects live: each
    process builds the two atoms in another order."""
    import subprocess
    import sys
    outs = {subprocess.run([sys.executable, "-c", _ORDER_PROBE, order], capture_output=True, text=True,
                           check=True).stdout for order in ("idiv,mod", "mod,idiv")}
    assert len(outs) == 1, outs
