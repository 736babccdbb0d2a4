"""The scheduler hands on kernel specs: outputs, inputs, scalar arguments and signature, found once."""
import numpy as np

import lazytensor as lt
from lazytensor.codegen.lower import lower_kernel
from lazytensor.ir.schedule import schedule


def _realised(*shape, seed=0):
    return lt.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32)).realize()


def test_a_spec_lists_what_its_kernel_reads_and_its_scalars():
    x, y = _realised(4, 5), _realised(4, 5, seed=1)
    out = x * 2.5 + y
    (spec,) = schedule([out.node]).kernels
    assert spec.outputs == (out.node,)
    assert spec.inputs == (x.node, y.node)
    assert [value for value, _ in spec.args] == [2.5]


def test_structurally_equal_kernels_share_a_signature_whatever_their_constants():
    x, y = _realised(4, 5), _realised(4, 5, seed=1)
    (a,) = schedule([(x * 2.5 + y).node]).kernels
    (b,) = schedule([(y * -1.0 + x).node]).kernels
    assert a.key == b.key and a.args != b.args


def test_a_different_shape_or_op_changes_the_signature():
    x, y, z = _realised(4, 5), _realised(4, 5, seed=1), _realised(5, 4)
    (a,) = schedule([(x * 2.5 + y).node]).kernels
    (b,) = schedule([(x * 2.5 - y).node]).kernels
    (c,) = schedule([(z * 2.5 + z).node]).kernels
    assert len({a.key, b.key, c.key}) == 3


def test_a_requested_reduction_is_an_input_of_the_kernel_that_reads_it():
    x = _realised(8, 16)
    total = x.sum(1, keepdim=True)
    out = x / total
    first, second = schedule([out.node, total.node]).kernels
    (reduced,) = first.outputs  # total.node itself, or a detach of it while autograd follows a tensor
    assert reduced.op == "reduce" and reduced in (total.node, *total.node.srcs) and first.inputs == (x.node,)
    assert set(second.inputs) == {reduced, x.node}


def test_siblings_become_one_spec_with_every_output():
    x = _realised(6, 7)
    a, b = x.exp(), x * 3
    (spec,) = schedule([a.node, b.node]).kernels
    assert spec.outputs == (a.node, b.node) and spec.inputs == (x.node,)


def test_lowering_numbers_buffers_and_arguments_as_the_spec_does():
    x, y = _realised(4, 5), _realised(4, 5, seed=1)
    (spec,) = schedule([(y * 0.5 + x).node]).kernels
    kernel = lower_kernel(spec)
    assert kernel.inputs == list(spec.inputs) and kernel.args == list(spec.args)
