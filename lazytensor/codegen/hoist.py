"""Sizes that vary become kernel arguments: one compiled program serves every length.

Generating text grows the sequence by one token per step, and a data loader's batches
vary in length; every new length is a new graph, whose kernels render to the same source
but for a few integer literals (sizes, strides, offsets, loop bounds). Compiling each
costs far more than the step. So a rendered kernel is split into its skeleton (the source
with every integer literal left out) and its literals. The first kernel of a skeleton
compiles as it is; when a kernel of the same skeleton differs from it in some literals,
those become `const int` parameters of one generic kernel, and every later kernel whose
other literals agree runs that program with its own values.

This is exact, not a guess: the generic kernel given a kernel's literals as arguments is
that kernel's own source with some constants read from arguments, which C evaluates the
same way. Literals C needs at compile time (the sizes of local arrays) stay in the
skeleton. The renderer's choices may differ by size (a ragged vector tail, say); those
kernels have another skeleton and their own generic program, so the number of programs
depends on the kinds of sizes met, not on how many.

Sizes also steer the optimiser (a vector width that divides an axis, an unroll by a
divisor), which would give every length its own code. So kernels whose signatures agree
but for sizes (ir/kernel.size_free) are one family: once a realisation after the family's
first brings a variable at another size than the member nearest it (the same layer, not
another layer of other widths), that variable varies, and no choice cuts it
(codegen/opt.py) in a kernel where it is small: a length that grows a token a step has
one program. Where it is large (a matmul's reduction at several widths) choices may cut
it, since its vector lanes and unrolls are most of its speed; the members' ragged tails
then make a few programs, each exact. Members holding the same variables uncut share the
choices of the first one planned so. Kernels of one
realisation (two layers of different widths) keep their own choices. The
family's first kernel is then planned again in that way, without compiling it, so that
the second kernel already knows which of its literals vary: one length's program, and
one generic program for all the others, from the second size met on (a size met twice is
met again: the next token, the next batch).

Within one realisation, kernels of one skeleton (two layers of different widths, with
their own choices) share one generic kernel as well (`Hoister.share`): PoCL compiles a
matmul in 0.3-0.4 s, so a first step compiles each such code once. A family's first
kernel keeps its own name and a later one of the same code runs under a digest name, as
a name must never name two codes; the device builds one code once under whichever name
it meets first (runtime/opencl.py).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from typing import Callable

from ..ir.bounded import remember
from ..ir.kernel import size_free
from .lower import LoweredKernel
from .opt import Opt, OptError, initial_plan, make_plan
from .program import RenderedKernel, RenderedProgram, code_of

# (kernel, name, varying, choices or None for the heuristic's) -> program
Build = Callable[[LoweredKernel, str, frozenset, "list[Opt] | None"], RenderedProgram]

# an integer literal: digits that are not part of a name (t14, float4, .s3) or of a float
_LITERAL = re.compile(r"(?<![\w.])\d+(?![\w.])")
_HEADER = re.compile(r"__kernel void (\w+)\((.*?)\) \{", re.S)
_FIXED = re.compile(r"__local [^;]*;")  # local array sizes must be constants


@dataclass(frozen=True)
class Split:
    """A kernel source as its skeleton (literals as holes, its name left out) and literals."""
    skeleton: tuple[str, ...]  # the text between hoistable literals
    literals: tuple[int, ...]


@dataclass
class _Family:
    """The kernels of one skeleton seen so far: the first one's literals, and the generic
    kernels made (which literal positions each takes as arguments)."""
    literals: tuple[int, ...]
    generic: list[tuple[frozenset[int], RenderedKernel]] = field(default_factory=list)
    shared: RenderedKernel | None = None  # the first one's code under a name of its own, for the others


def _name(name: str, code: str) -> str:
    """A kernel name that no other code shares: the kernel's name without its shape (and
    without a digest it carries already), and a digest of its code (its name left out).
    Which constants a generic kernel keeps depends on the first kernel of its family, which
    another process (a plan read from disk) may have met at other sizes: a name made of the
    code alone never names two codes."""
    digest = hashlib.sha1(code.encode()).hexdigest()[:16]
    return f"{re.sub(r'(_[0-9]+(x[0-9]+)*|_n[0-9a-f]{16})+$', '', name)}_n{digest}"


def split(source: str, name: str) -> Split:
    """`source`'s skeleton and hoistable literals (literals inside fixed spans stay text)."""
    source = code_of(name, source)
    fixed = [m.span() for m in _FIXED.finditer(source)]
    pieces, literals, last = [], [], 0
    for m in _LITERAL.finditer(source):
        if any(a <= m.start() < b for a, b in fixed):
            continue
        pieces.append(source[last:m.start()])
        literals.append(int(m.group()))
        last = m.end()
    pieces.append(source[last:])
    return Split(tuple(pieces), tuple(literals))


def generic_kernel(kernel: RenderedKernel, parts: Split, hoisted: frozenset[int]) -> RenderedKernel:
    """`kernel` with the literals at positions `hoisted` read from int parameters lt_n0..,
    under a name of its code's own."""
    text = [parts.skeleton[0]]
    order = sorted(hoisted)
    for i, (value, piece) in enumerate(zip(parts.literals, parts.skeleton[1:])):
        text.append(f"lt_n{order.index(i)}" if i in hoisted else str(value))
        text.append(piece)
    code = "".join(text)
    name = _name(kernel.name, code)
    source = code.replace("\0", name)
    header = _HEADER.search(source)
    assert header is not None and header.group(1) == name, f"kernel {name}: unexpected source header"
    params = "".join(f", const int lt_n{j}" for j in range(len(order)))
    source = source[:header.end(2)] + params + source[header.end(2):]
    return replace(kernel, name=name, source=source, literals=tuple(parts.literals[i] for i in order),
                   sized_at_launch=True)


def _launched_as(program: RenderedKernel, kernel: RenderedKernel, literals: tuple[int, ...]) -> RenderedKernel:
    """`program`'s code, launched as `kernel` is (its sizes and buffers) with `literals`."""
    return replace(program, global_size=kernel.global_size, local_size=kernel.local_size,
                   buffers=kernel.buffers, literals=literals, sized_at_launch=True)


@dataclass
class _SizeFamily:
    """Kernels whose signatures agree but for sizes: the first one (its buffers left out)
    and its variables' sizes, the realisation each size was first met in, the variables
    seen to vary, and the choices made with them varying, by the variables held uncut: the
    first member planned holding a set uncut chooses for every later one holding the same
    (one code, and no heuristic run per size)."""
    first: LoweredKernel
    sizes: dict[str, int]
    met: dict[tuple, int] = field(default_factory=dict)
    varying: frozenset[str] = frozenset()
    choices: dict[frozenset[str], list[Opt]] = field(default_factory=dict)
    first_opts: list[Opt] | None = None  # the choices the first one was rendered with

    def costs_nothing(self, varying: frozenset[str]) -> bool:
        """Would a generic code with `varying` varying keep every choice the first kernel took?
        (Then it is as fast, and compiling it now spares the specialised one.)"""
        if self.first_opts is None:
            return False
        try:
            make_plan(self.first, self.first_opts, varying)
        except OptError:
            return False
        return True

    def nearest(self, sizes: dict[str, int], now: int) -> dict[str, int] | None:
        """The sizes met before that agree with `sizes` on the most variables: the same layer
        at another length, not another layer of the family (an MLP's up and down projections
        are one family; their widths do not vary, the rows do). They are looked for among the
        sizes the latest earlier realisation brought (the step before, at another length), so
        that a kernel of an unrelated graph whose sizes happen to agree more is not taken."""
        own = tuple(sorted(sizes.items()))
        others = {met: when for met, when in self.met.items() if met != own}
        if not others:
            return None
        earlier = [when for when in others.values() if when < now]
        latest = max(earlier) if earlier else None
        kin = [dict(met) for met, when in others.items() if latest is None or when == latest]
        return max(kin, key=lambda met: sum(met.get(v) == n for v, n in sizes.items()))

    def uncut(self, sizes: dict[str, int], resized: bool) -> frozenset[str]:
        """The varying variables no choice may cut: those small (below CUT_FROM). A small one
        (a generated text's length) has one program for every size; a large one keeps the
        vector lanes and unrolls that make a matmul fast (a reduction four times slower
        without them), at the cost of a program per kind of ragged tail. In a realisation that
        repeats an earlier one at other sizes (`resized`), the smallest size the family met
        decides, so a length keeps one program as it grows past CUT_FROM; elsewhere the
        kernel's own sizes decide, as a family spans models (one process training a small
        model and running a large one: a reduction of 1536 held uncut because another model
        met it at 128 ran forty times slower)."""
        if not resized:
            return frozenset(v for v in self.varying if sizes.get(v, CUT_FROM) < CUT_FROM)
        smallest: dict[str, int] = {}
        for met in self.met:
            for name, size in met:
                smallest[name] = min(size, smallest.get(name, size))
        return frozenset(v for v in self.varying if smallest.get(v, CUT_FROM) < CUT_FROM)


CUT_FROM = 256  # a varying variable this large may be cut by choices (see _SizeFamily.uncut)


def variable_sizes(kernel: LoweredKernel) -> dict[str, int]:
    """The size of each output and reduction variable of the kernel's initial plan."""
    plan = initial_plan(kernel)
    return {v.arg[0]: v.arg[1] for v in [a.var for a in plan.axes] + plan.reduce_axes if v.op == "var"}


class Hoister:
    """Turns rendered kernels into generic ones once their sizes are seen to vary."""

    def __init__(self, limit: int = 4096):
        self.families: dict[tuple[str, ...], _Family] = {}
        self.size_families: dict[tuple, _SizeFamily] = {}
        self.limit = limit  # families kept (the oldest are forgotten: a long session meets many)

    def render(self, kernel: LoweredKernel, name: str, key: tuple, now: int, resized: bool,
               build: Build) -> RenderedProgram:
        """`kernel` rendered by `build`, planned and made generic once its family varies:
        its realisation repeats an earlier one at other sizes (`resized`: the next token,
        another batch length), or an earlier realisation brought the family sizes of its own
        (`now` numbers them: a loop whose graphs differ a little from step to step; a size met
        twice is likely met again, and the first size keeps its own program). Kernels that
        merely share a structure within one realisation (two layers of different widths) keep
        their own constants and choices."""
        family_key = size_free(key)
        sizes = variable_sizes(kernel)
        family = self.size_families.get(family_key)
        if family is None:
            first = replace(kernel, inputs=[None] * len(kernel.inputs))  # its buffers are not needed to plan it
            family = _SizeFamily(first, sizes)
            remember(self.size_families, family_key, family, self.limit)
        family.met.setdefault(tuple(sorted(sizes.items())), now)
        nearest = family.nearest(sizes, now) or sizes
        varying = family.varying | {v for v in sizes.keys() | nearest.keys() if sizes.get(v) != nearest.get(v)}
        earlier = nearest is not sizes and family.met[tuple(sorted(nearest.items()))] < now
        if not (resized or family.varying or earlier):  # sizes of its own, met with no other
            program = build(kernel, name, frozenset(), None)
            if family.first_opts is None and sizes == family.sizes:
                family.first_opts = list(program.kernels[-1].opts)
            return self.program(program, False)
        if varying != family.varying:
            family.varying = frozenset(varying)
            # what varies in the code; the first kernel's own choices where they all still fit
            uncut = family.uncut(family.sizes, resized)
            reference = build(family.first, name, uncut, family.first_opts if family.costs_nothing(uncut) else None)
            family.choices = {uncut: list(reference.kernels[-1].opts)}
            self.program(reference, False)
        uncut = family.uncut(sizes, resized)
        # the family's choices for the variables this member holds uncut (one code for every
        # length), or its own, kept for the next (one large where the family's first was small)
        opts = family.choices.get(uncut)
        try:
            program = build(kernel, name, uncut, opts)
        except OptError:  # a choice that does not fit this member: the heuristic's own for it
            program = build(kernel, name, uncut, None)
        family.choices.setdefault(uncut, list(program.kernels[-1].opts))
        return self.program(program)

    def program(self, program: RenderedProgram, generic: bool = True) -> RenderedProgram:
        """`program` with each kernel made generic where its family allows (`generic`), or
        only noted as a member of its family."""
        kernels = tuple(self.kernel(k, generic) for k in program.kernels)
        return program if kernels == program.kernels else replace(program, kernels=kernels)

    def kernel(self, kernel: RenderedKernel, generic: bool = True) -> RenderedKernel:
        """`kernel`, or the same code made generic in its family (`generic`: a new generic
        kernel may be made for it; an existing one that covers it is taken either way, as it
        is compiled already and computes the same)."""
        parts = split(kernel.source, kernel.name)
        family = self.families.get(parts.skeleton)
        if family is None:
            remember(self.families, parts.skeleton, _Family(parts.literals), self.limit)
            return kernel
        if parts.literals == family.literals:  # the same code (sizes only in the launch), one name for it
            if family.shared is None:
                family.shared = generic_kernel(kernel, parts, frozenset())
            return _launched_as(family.shared, kernel, ())
        differs = frozenset(i for i, (a, b) in enumerate(zip(parts.literals, family.literals)) if a != b)
        for hoisted, made in family.generic:
            if differs <= hoisted:
                return _launched_as(made, kernel, tuple(parts.literals[i] for i in sorted(hoisted)))
        if not generic:
            return kernel
        hoisted = differs.union(*(h for h, _ in family.generic))  # what varied in any of them
        return self._generic(kernel, parts, family, hoisted)

    def _generic(self, kernel: RenderedKernel, parts: Split, family: _Family, hoisted: frozenset[int]) -> RenderedKernel:
        made = generic_kernel(kernel, parts, hoisted)
        family.generic.append((hoisted, made))
        return made

    def share(self, programs: list[RenderedProgram]) -> list[RenderedProgram]:
        """The programs of one realisation, where kernels whose code differs only in literals
        (two layers of different widths) run one generic kernel: it compiles once where each
        would compile alone (PoCL takes 0.3-0.4 s for a matmul). Each computes what it did:
        the code is its own with some constants read from arguments. A kernel launched as
        its family's shared copy (the first one's code, under a name of its own) is one of
        them; one that runs a generic code with arguments stays as it is. (One code under
        two names builds once anyway: the device keeps its kernels by code.)"""
        groups: dict[tuple[str, ...], list[tuple[int, int, Split]]] = {}
        for i, program in enumerate(programs):
            for j, kernel in enumerate(program.kernels):
                if not kernel.literals:
                    parts = split(kernel.source, kernel.name)
                    groups.setdefault(parts.skeleton, []).append((i, j, parts))
        kernels = [list(p.kernels) for p in programs]
        for skeleton, members in groups.items():
            if len({parts.literals for _, _, parts in members}) < 2:
                continue
            i, j, parts = members[0]
            family = self.families.get(skeleton)
            if family is None:
                family = _Family(parts.literals)
                remember(self.families, skeleton, family, self.limit)
            hoisted, made = self._covering(kernels[i][j], parts, [p for _, _, p in members], family)
            order = sorted(hoisted)
            for i, j, parts in members:
                kernels[i][j] = _launched_as(made, kernels[i][j], tuple(parts.literals[at] for at in order))
        return [p if tuple(ks) == p.kernels else replace(p, kernels=tuple(ks)) for p, ks in zip(programs, kernels)]

    def _covering(self, first: RenderedKernel, parts: Split, members: list[Split],
                  family: _Family) -> tuple[frozenset[int], RenderedKernel]:
        """A generic kernel every member (`first`, split as `parts`, among them) can run, and
        the literal positions it takes as arguments: an existing one where it covers them."""
        # every generic kernel of a family keeps the family's first literals where it
        # takes no argument (Hoister.kernel relies on it): differences count from those
        need = frozenset(at for p in members for at, (a, b) in enumerate(zip(p.literals, family.literals)) if a != b)
        found = next(((h, g) for h, g in family.generic if need <= h), None)
        if found is not None:
            return found
        hoisted = need.union(*(h for h, _ in family.generic))
        return hoisted, self._generic(first, parts, family, hoisted)
