"""The loop IR: a small expression DAG that both renderers read.

A kernel is one store of an expression over loop variables. Expression nodes:
  var    a loop index (arg = (name, size)); output vars and reduce vars
  lit    an inline literal (index arithmetic, neutral elements)
  arg    a scalar kernel argument (arg = slot): data constants never bake into code
  load   buffer[index] if valid else 0 (srcs = index, valid; arg = buffer slot)
  cast   to dtype
  reduce arg = (op, vars), srcs = (body,)
  and the elementwise ops of ir/ops.py by name.
Index arithmetic is simplified as it is built (linear forms with bounds), so a
reshape that only splits or merges axes costs no division in the kernel.
"""
from __future__ import annotations

import weakref
from typing import Any

from ..ir.dtype import DType, bool_, int32

INDEX = int32
_CACHE: "weakref.WeakValueDictionary[tuple, U]" = weakref.WeakValueDictionary()
_BIG = 2**31 - 1


class U:
    __slots__ = ("op", "dtype", "srcs", "arg", "bounds", "text", "__weakref__")

    def __init__(self, op: str, dtype: DType, srcs: tuple["U", ...], arg: Any):
        self.op, self.dtype, self.srcs, self.arg = op, dtype, srcs, arg
        self.bounds = _compute_bounds(self)
        self.text: str | None = None  # _structure's, once asked (a node never changes)

    def __repr__(self) -> str:
        return f"U({self.op}, {self.dtype.name}, {self.arg!r}, {len(self.srcs)} srcs)"


def u(op: str, dtype: DType, srcs: tuple[U, ...] = (), arg: Any = None) -> U:
    key = (op, dtype, srcs, ("f", repr(arg)) if isinstance(arg, float) else arg)
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE[key] = U(op, dtype, srcs, arg)
    return found


def _compute_bounds(n: U) -> tuple[int, int]:
    if n.dtype != INDEX:
        return (-_BIG, _BIG)
    if n.op == "lit":
        return (n.arg, n.arg)
    if n.op == "var":
        return (0, n.arg[1] - 1)
    if n.op == "add":
        (a0, a1), (b0, b1) = n.srcs[0].bounds, n.srcs[1].bounds
        return (a0 + b0, a1 + b1)
    if n.op == "mul" and n.srcs[1].op == "lit":
        lo, hi = n.srcs[0].bounds
        k = n.srcs[1].arg
        return (min(lo * k, hi * k), max(lo * k, hi * k))
    if n.op == "idiv" and n.srcs[1].op == "lit" and n.srcs[1].arg > 0:
        lo, hi = n.srcs[0].bounds
        return (lo // n.srcs[1].arg, hi // n.srcs[1].arg)
    if n.op == "mod" and n.srcs[1].op == "lit" and n.srcs[1].arg > 0:
        lo, hi = n.srcs[0].bounds
        k = n.srcs[1].arg
        return (lo, hi) if 0 <= lo and hi < k else (0, k - 1)
    return (-_BIG, _BIG)


# ---- index arithmetic with simplification -------------------------------------------------

def lit(value, dtype: DType = INDEX) -> U:
    return u("lit", dtype, (), value)


def var(name: str, size: int) -> U:
    return lit(0) if size == 1 else u("var", INDEX, (), (name, size))


TRUE = lit(True, bool_)
FALSE = lit(False, bool_)


def linear(n: U) -> tuple[dict[U, int], int]:
    """Write an index expression as sum(coef * atom) + const."""
    if n.op == "lit":
        return {}, n.arg
    if n.op == "add":
        ta, ca = linear(n.srcs[0])
        tb, cb = linear(n.srcs[1])
        for t, c in tb.items():
            ta = {**ta, t: ta.get(t, 0) + c}
        return {t: c for t, c in ta.items() if c != 0}, ca + cb
    if n.op == "mul" and n.srcs[1].op == "lit":
        t, c = linear(n.srcs[0])
        k = n.srcs[1].arg
        return {a: v * k for a, v in t.items() if v * k != 0}, c * k
    return {n: 1}, 0


def _order(atom: U) -> tuple:
    """Variables first, then by structure: the same order in every process (an order by
    address changed the kernel text, and so the disk cache's key, from run to run)."""
    return (atom.op != "var", str(atom.arg), _structure(atom))


def _structure(n: U) -> str:
    if n.text is None:
        n.text = f"{n.op}:{n.dtype.name}:{n.arg!r}({','.join(_structure(s) for s in n.srcs)})"
    return n.text


def from_linear(terms: dict[U, int], c: int) -> U:
    out: U | None = None
    for atom in sorted(terms, key=_order):
        k = terms[atom]
        term = atom if k == 1 else u("mul", INDEX, (atom, lit(k)))
        out = term if out is None else u("add", INDEX, (out, term))
    if out is None:
        return lit(c)
    return out if c == 0 else u("add", INDEX, (out, lit(c)))


def add(a: U, b: U | int) -> U:
    b = lit(b) if isinstance(b, int) else b
    ta, ca = linear(a)
    tb, cb = linear(b)
    merged = dict(ta)
    for t, k in tb.items():
        merged[t] = merged.get(t, 0) + k
    merged, extra = _recombine({t: k for t, k in merged.items() if k != 0})
    return from_linear(merged, ca + cb + extra)


def _recombine(terms: dict[U, int]) -> tuple[dict[U, int], int]:
    """c*(x % m) + c*m*(x // m) == c*x: undo the split a reshape made of one index."""
    extra = 0
    changed = True
    while changed:
        changed = False
        for atom, c in list(terms.items()):
            if atom.op != "mod" or atom not in terms:
                continue
            x, m = atom.srcs[0], atom.srcs[1].arg
            partner = u("idiv", INDEX, (x, lit(m)))
            if terms.get(partner) == c * m:
                del terms[atom], terms[partner]
                tx, cx = linear(x)
                for t, k in tx.items():
                    terms[t] = terms.get(t, 0) + k * c
                terms = {t: k for t, k in terms.items() if k != 0}
                extra += cx * c
                changed = True
                break
    return terms, extra


def mul(a: U, k: int) -> U:
    terms, c = linear(a)
    return from_linear({t: v * k for t, v in terms.items() if v * k != 0}, c * k)


def _split(a: U, k: int) -> tuple[dict[U, int], dict[U, int], int]:
    """a = k * sum(whole) + sum(rest) + c. A coefficient v > k splits as k*(v // k) + v % k:
    (59*r + w) // 58 is r + (r + w) // 58, whose remainder a sliding window's bounds settle."""
    terms, c = linear(a)
    whole, rest = {}, {}
    for t, v in terms.items():
        q, remainder = divmod(v, k)
        if remainder == 0 or v > k:
            whole[t] = q
        if remainder:
            rest[t] = remainder if v > k else v
    return whole, rest, c


def _peel(a: U, k: int) -> tuple[int, U, U] | None:
    """Write a as d*big + small with d | k and 0 <= small < d, if some coefficient d allows."""
    terms, c = linear(a)
    for d in sorted({abs(v) for v in terms.values() if v > 1 and k % v == 0}, reverse=True):
        big = {t: v // d for t, v in terms.items() if v % d == 0}
        small = from_linear({t: v for t, v in terms.items() if v % d != 0}, c)
        lo, hi = small.bounds
        if 0 <= lo and hi < d:
            return d, from_linear(big, 0), small
    return None


def floordiv(a: U, k: int) -> U:
    """a // k for k > 0, floor semantics."""
    if k == 1:
        return a
    peeled = _peel(a, k)
    if peeled is not None:  # (d*big + small) // k == big // (k/d)
        d, big, _ = peeled
        return floordiv(big, k // d)
    whole, rest, c = _split(a, k)
    whole_c = c // k
    r = from_linear(rest, c % k)
    lo, hi = r.bounds
    if 0 <= lo and hi < k:
        return from_linear(whole, whole_c)
    if len(rest) == 1 and c % k == 0:
        (atom, coef), = rest.items()
        if coef > 1 and k % coef == 0:
            return add(from_linear(whole, whole_c), floordiv(atom, k // coef))
        if atom.op == "idiv" and coef == 1 and atom.srcs[1].op == "lit" and atom.bounds[0] >= 0:
            return add(from_linear(whole, whole_c), floordiv(atom.srcs[0], atom.srcs[1].arg * k))
    return add(from_linear(whole, whole_c), u("idiv", INDEX, (r, lit(k))))


def mod(a: U, k: int) -> U:
    """a % k for k > 0, floor semantics."""
    if k == 1:
        return lit(0)
    peeled = _peel(a, k)
    if peeled is not None:  # (d*big + small) % k == d*(big % (k/d)) + small
        d, big, small = peeled
        return add(mul(mod(big, k // d), d), small)
    _, rest, c = _split(a, k)
    r = from_linear(rest, c % k)
    lo, hi = r.bounds
    if 0 <= lo and hi < k:
        return r
    if len(rest) == 1 and c % k == 0:
        (atom, coef), = rest.items()
        if coef > 1 and k % coef == 0:
            return mul(mod(atom, k // coef), coef)
        if atom.op == "mod" and coef == 1 and atom.srcs[1].op == "lit" and atom.srcs[1].arg % k == 0:
            return mod(atom.srcs[0], k)
    return u("mod", INDEX, (r, lit(k)))


def less_than(a: U, b: int) -> U:
    """The boolean a < b, decided now when the bounds allow."""
    lo, hi = a.bounds
    if hi < b:
        return TRUE
    if lo >= b:
        return FALSE
    return u("lt", bool_, (a, lit(b)))


def both(a: U, b: U) -> U:
    if a is TRUE or b is FALSE:
        return b
    if b is TRUE or a is FALSE:
        return a
    return a if a is b else u("and", bool_, (a, b))


def in_range(a: U, size: int) -> U:
    """0 <= a < size."""
    return both(less_than(mul(a, -1), 1), less_than(a, size))


# ---- substitution: how an axis is split, merged or unrolled ---------------------------------

def _rebuild(n: U, srcs: tuple[U, ...]) -> U:
    """n with new sources, re-simplifying index arithmetic."""
    if srcs == n.srcs:
        return n
    if n.dtype == INDEX and len(srcs) == 2 and srcs[1].op == "lit":
        k = srcs[1].arg
        if n.op == "add":
            return add(srcs[0], srcs[1])
        if n.op == "mul":
            return mul(srcs[0], k)
        if n.op == "idiv" and k > 0:
            return floordiv(srcs[0], k)
        if n.op == "mod" and k > 0:
            return mod(srcs[0], k)
    if n.op == "add" and n.dtype == INDEX:
        return add(srcs[0], srcs[1])
    if n.op == "lt" and srcs[0].dtype == INDEX and srcs[1].op == "lit":
        return less_than(srcs[0], srcs[1].arg)
    if n.op == "and" and n.dtype == bool_:
        return both(srcs[0], srcs[1])
    if n.op == "where" and srcs[0].op == "lit":
        return srcs[1] if srcs[0].arg else srcs[2]
    if n.op == "load" and srcs[1] is FALSE:
        return lit(0, n.dtype)
    return u(n.op, n.dtype, srcs, n.arg)


def substitute(roots: list[U], mapping: dict[U, U]) -> list[U]:
    """`roots` with each key of `mapping` replaced by its value (index arithmetic re-simplified).
    A reduce whose variable is replaced by an expression keeps the expression's variables."""
    from ..ir.traverse import postorder
    memo: dict[int, U] = {}
    for n in postorder(roots, lambda n: n.srcs):
        if n in mapping:
            memo[id(n)] = mapping[n]
            continue
        new = _rebuild(n, tuple(memo[id(s)] for s in n.srcs))
        if new.op == "reduce":
            op, rvars = new.arg
            kept: list[U] = []
            for v in rvars:
                for w in variables(mapping.get(v, v)):
                    if w not in kept:
                        kept.append(w)
            if tuple(kept) != rvars:
                new = u("reduce", new.dtype, new.srcs, (op, tuple(kept))) if kept else new.srcs[0]
        memo[id(n)] = new
    return [memo[id(r)] for r in roots]


def variables(n: U) -> list[U]:
    """The loop variables an index expression uses, in first-seen order."""
    from ..ir.traverse import postorder
    return [m for m in postorder([n], lambda m: m.srcs) if m.op == "var"]
