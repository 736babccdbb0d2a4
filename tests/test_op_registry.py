"""The elementwise-op registry: every backend's table is checked against it at import."""
import pytest

from lazytensor.codegen import render_opencl
from lazytensor.ir import grad, ops, semantics
from lazytensor.ir.ops import REGISTRY, OpTableError, check_op_table


def test_every_backend_covers_every_registered_op():
    computed = set(REGISTRY) - {"cast"}
    assert set(semantics.ELEMENTWISE) == computed
    assert set(render_opencl.OPS) == computed
    assert set(grad.ELEMENTWISE_RULES) == {n for n, op in REGISTRY.items() if op.differentiable}


def test_op_families_are_derived_from_the_registry():
    assert ops.COMPARISONS == {"lt", "le", "eq", "ne"}
    assert "where" in ops.TERNARY and "add" in ops.BINARY and "exp" in ops.UNARY
    assert ops.ELEMENTWISE == set(REGISTRY)


def test_a_table_missing_an_op_is_refused():
    table = {name: None for name in REGISTRY if name not in ("cast", "tanh")}
    with pytest.raises(OpTableError, match="no rule for tanh"):
        check_op_table("test backend", table, (n for n in REGISTRY if n != "cast"))


def test_a_table_with_an_unknown_op_is_refused():
    table = {**{name: None for name in REGISTRY}, "sinc": None}
    with pytest.raises(OpTableError, match="sinc"):
        check_op_table("test backend", table, REGISTRY)


def test_a_rule_with_the_wrong_arity_is_refused():
    with pytest.raises(OpTableError, match="'add' takes 1 operands, the registry says 2"):
        check_op_table("test backend", {"add": None}, ["add"], lambda name: 1)


def test_opencl_templates_take_the_registered_number_of_operands():
    for name, template in render_opencl.OPS.items():
        if isinstance(template, str):
            assert render_opencl._template_arity(name) == REGISTRY[name].arity, name
