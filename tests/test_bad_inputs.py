"""Bad input, op family by op family: wrong shapes, dims, dtypes, devices and indices raise at
the call, with a message naming the op and the shapes or dtypes, and leave every tensor
involved as it was (a failed in-place op does not write; a failed backward keeps .grad)."""
import numpy as np
import pytest

import lazytensor as lt
import lazytensor.nn.functional as F

pytestmark = pytest.mark.usefixtures("env")


def _t(*shape, dtype=None):
    return lt.arange(float(np.prod(shape))).reshape(shape) if dtype is None else lt.zeros(*shape, dtype=dtype)


# name -> (the call, given fresh tensors a (2, 3), b (4, 5), v (3,); exception; what the message names)
CASES = {
    "add: shapes": (lambda a, b, v: a + b, RuntimeError, r"add: shapes \(2, 3\) and \(4, 5\)"),
    "add_: broadcast into a smaller target": (lambda a, b, v: a.add_(lt.ones(4, 2, 3)), RuntimeError,
                                              r"add_: output with shape \(2, 3\).*\(4, 2, 3\)"),
    "mul_: result type": (lambda a, b, v: lt.zeros(3, dtype=lt.int64).mul_(v * 0.5), RuntimeError,
                          r"mul_: result type float32 can't be cast to.*int64"),
    "sub: two bools": (lambda a, b, v: (a > 0) - (a > 0), TypeError, r"sub: .*bool"),
    "pow: a string": (lambda a, b, v: a.pow("x"), TypeError, r"pow: .*str.*\(2, 3\) float32"),
    "where: float condition": (lambda a, b, v: lt.where(a, a, b), RuntimeError,
                               r"where: .*boolean.*float32 \(shape \(2, 3\)\)"),
    "matmul: inner sizes": (lambda a, b, v: a @ b, RuntimeError, r"matmul: .*\(2x3 and 4x5\)"),
    "matmul: vectors": (lambda a, b, v: v @ lt.ones(4), RuntimeError, r"matmul: .*\[3\].*\[4\]"),
    "bmm: batch sizes": (lambda a, b, v: lt.bmm(lt.ones(2, 2, 3), lt.ones(3, 3, 4)), RuntimeError,
                         r"bmm: .*\(2, 2, 3\) and \(3, 3, 4\)"),
    "einsum: sizes": (lambda a, b, v: lt.einsum("ij,jk->ik", a, a), RuntimeError, r"einsum\(\): .*\(2, 3\)"),
    "sum: dim": (lambda a, b, v: a.sum(5), IndexError, r"sum: Dimension out of range.*\(2, 3\)"),
    "max: dim": (lambda a, b, v: a.max(3), IndexError, r"max: Dimension out of range.*\(2, 3\)"),
    "softmax: dim": (lambda a, b, v: a.softmax(2), IndexError, r"softmax: Dimension out of range.*\(2, 3\)"),
    "topk: k": (lambda a, b, v: v.topk(5), RuntimeError, r"topk: k \(5\).*\(3,\)"),
    "reshape: size": (lambda a, b, v: a.reshape(4, 2), RuntimeError, r"reshape: shape '\[4, 2\]'.*\(2, 3\)"),
    "view: strides": (lambda a, b, v: a.t().view(6), RuntimeError, r"view size is not compatible.*\(3, 2\)"),
    "permute: repeated dim": (lambda a, b, v: a.permute(0, 0), RuntimeError, r"permute: repeated dim.*\(2, 3\)"),
    "transpose: dim": (lambda a, b, v: a.transpose(0, 3), IndexError, r"transpose: .*\(2, 3\)"),
    "expand: size": (lambda a, b, v: a.expand(3, 3), RuntimeError, r"expand: .*Tensor sizes: \[2, 3\]"),
    "squeeze: dim": (lambda a, b, v: a.squeeze(4), IndexError, r"squeeze: .*\(2, 3\)"),
    "unsqueeze: dim": (lambda a, b, v: a.unsqueeze(5), IndexError, r"unsqueeze: .*\(2, 3\)"),
    "flip: dim": (lambda a, b, v: a.flip(3), IndexError, r"flip: .*\(2, 3\)"),
    "repeat: too few dims": (lambda a, b, v: a.repeat(2), RuntimeError, r"repeat: .*\(2, 3\)"),
    "cat: shapes": (lambda a, b, v: lt.cat([a, b]), RuntimeError, r"cat: .*\(2, 3\), \(4, 5\)"),
    "cat: dim": (lambda a, b, v: lt.cat([a, a], 4), IndexError, r"cat: .*\(2, 3\)"),
    "stack: shapes": (lambda a, b, v: lt.stack([a, b]), RuntimeError, r"stack: .*\(2, 3\), \(4, 5\)"),
    "split: size 0": (lambda a, b, v: a.split(0, 1), RuntimeError, r"split: split_size must be positive"),
    "pad: crop past the size": (lambda a, b, v: F.pad(a, (-4, 0)), RuntimeError,
                                r"pad: negative padding \(-4, 0\).*\(2, 3\)"),
    "pad: odd length": (lambda a, b, v: F.pad(a, (1,)), RuntimeError, r"pad: padding length 1.*\(2, 3\)"),
    "index: int out of range": (lambda a, b, v: a[5], IndexError, r"index 5 is out of bounds.*size 2"),
    "index: list out of range": (lambda a, b, v: a[[0, 2]], IndexError, r"index 2 is out of bounds.*size 2"),
    "index: too many": (lambda a, b, v: a[0, 0, 0], IndexError, r"too many indices.*\(2, 3\)"),
    "index: float tensor": (lambda a, b, v: a[lt.tensor([0.0])], IndexError, r"long, int, byte or bool.*float32"),
    "gather: float index": (lambda a, b, v: a.gather(1, lt.ones(2, 3)), RuntimeError,
                            r"gather\(\): Expected dtype int32 or int64.*float32.*\(2, 3\)"),
    "index: int8 tensor": (lambda a, b, v: a[lt.tensor([0], dtype=lt.int8)], IndexError,
                           r"long, int, byte or bool.*int8"),
    "gather: int16 index": (lambda a, b, v: a.gather(1, lt.zeros(2, 3, dtype=lt.int16)), RuntimeError,
                            r"gather\(\): Expected dtype int32 or int64.*int16"),
    "index_select: uint8 index": (lambda a, b, v: a.index_select(1, lt.zeros(2, dtype=lt.uint8)), RuntimeError,
                                  r"index_select\(\): Expected dtype int32 or int64.*uint8"),
    "gather: index rank": (lambda a, b, v: a.gather(1, lt.zeros(2, dtype=lt.int64)), RuntimeError,
                           r"gather\(\): .*\(2,\) vs input shape \(2, 3\)"),
    "scatter: float index": (lambda a, b, v: v.scatter(0, lt.ones(2), 1.0), RuntimeError,
                             r"scatter\(\): Expected dtype int32 or int64.*float32"),
    "masked_fill: float mask": (lambda a, b, v: a.masked_fill(a, 0.0), RuntimeError,
                                r"masked_fill: .*bool mask.*float32.*\(2, 3\)"),
    "masked_fill_: float mask": (lambda a, b, v: a.masked_fill_(a, 0.0), RuntimeError,
                                 r"masked_fill: .*bool mask.*float32.*\(2, 3\)"),
    "setitem: value shape": (lambda a, b, v: a.__setitem__(slice(None), lt.ones(4)), RuntimeError,
                             r"__setitem__: shapes \(2, 3\) and \(4,\)"),
    "linear: sizes": (lambda a, b, v: F.linear(a, lt.ones(4, 4)), RuntimeError, r"linear: .*\(2x3 and 4x4\)"),
    "conv2d: channels": (lambda a, b, v: F.conv2d(lt.ones(1, 3, 5, 5), lt.ones(2, 4, 3, 3)), RuntimeError,
                         r"conv2d: .*\[2, 4, 3, 3\].*\[1, 3, 5, 5\]"),
    "embedding: float indices": (lambda a, b, v: F.embedding(v, b), RuntimeError, r"embedding: .*float32"),
    "layer_norm: shape": (lambda a, b, v: F.layer_norm(a, (4,)), RuntimeError, r"layer_norm: .*\[4\].*\(2, 3\)"),
    "cross_entropy: target shape": (lambda a, b, v: F.cross_entropy(a, lt.tensor([0, 1, 2])), ValueError,
                                    r"nll_loss: .*\(2,\).*\(2, 3\).*\(3,\)"),
    "mse_loss: shapes": (lambda a, b, v: F.mse_loss(a, b), RuntimeError, r"\(2, 3\) and \(4, 5\)"),
    "item: many elements": (lambda a, b, v: a.item(), RuntimeError, r"item\(\): a Tensor with 6 elements"),
    "arange: step 0": (lambda a, b, v: lt.arange(0, 5, 0), RuntimeError, r"arange\(\): step must be nonzero"),
    "randn: negative size": (lambda a, b, v: lt.randn(-1, 2), RuntimeError, r"randn\(\): negative dimension"),
    "zeros: size type": (lambda a, b, v: lt.zeros("a"), TypeError, r"zeros\(\): size must be ints"),
    "to: unknown": (lambda a, b, v: a.to("float99"), RuntimeError, r"unknown device 'float99'"),
    "clamp: no bounds": (lambda a, b, v: a.clamp(), RuntimeError, r"clamp: At least one of 'min' or 'max'"),
    "roll: shifts and dims": (lambda a, b, v: a.roll((1, 2), (0,)), RuntimeError,
                              r"roll: shifts and dimensions must align. shifts: 2, dims: 1 \(shape \(2, 3\)\)"),
    "div: rounding mode": (lambda a, b, v: lt.div(a, 2, rounding_mode="round"), RuntimeError,
                           r"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found 'round'"),
    "pow: integers to a negative power": (lambda a, b, v: a.long() ** -1, RuntimeError,
                                          r"Integers to negative integer powers.*int64.*\(2, 3\)"),
    "linspace: negative steps": (lambda a, b, v: lt.linspace(0, 1, -1), RuntimeError,
                                 r"linspace: number of steps must be non-negative"),
    "tensor: strings": (lambda a, b, v: lt.tensor(["a", "b"]), TypeError, r"tensor\(\): invalid data type 'str'"),
    "cat: no tensors": (lambda a, b, v: lt.cat([]), ValueError, r"cat\(\): expected a non-empty list"),
    "narrow: past the end": (lambda a, b, v: a.narrow(1, 2, 2), RuntimeError,
                             r"narrow: start \(2\) \+ length \(2\) exceeds dimension size \(3\).*\(2, 3\)"),
    "binary_cross_entropy: input past 1": (lambda a, b, v: F.binary_cross_entropy(a, a * 0), RuntimeError,
                                           r"binary_cross_entropy: all elements of input should be between 0 and 1"),
    "binary_cross_entropy: target past 1": (lambda a, b, v: F.binary_cross_entropy(a * 0 + 0.5, a), RuntimeError,
                                            r"binary_cross_entropy: all elements of target should be between 0 and 1"),
    "addmm: input shape": (lambda a, b, v: lt.addmm(b, a, a.t()), RuntimeError, r"addmm: .*\(4, 5\).*\(2, 2\)"),
    "addmm: input dtype": (lambda a, b, v: lt.addmm(lt.zeros(2, 2, dtype=lt.int64), a, a.t()), RuntimeError,
                           r"addmm: expected input and the product to have the same dtype, got int64"),
    "mv: a matrix for the vector": (lambda a, b, v: lt.mv(a, a), RuntimeError, r"mv: vec must be a 1-D tensor.*\(2, 3\)"),
    "tensordot: sizes": (lambda a, b, v: lt.tensordot(a, b, ([1], [0])), RuntimeError,
                         r"tensordot: contracted dims \[1\] of \(2, 3\) and \[0\] of \(4, 5\)"),
    "vdot: matrices": (lambda a, b, v: lt.vdot(a, a), RuntimeError, r"vdot: 1D tensors expected.*\(2, 3\)"),
    "block_diag: 3-D": (lambda a, b, v: lt.block_diag(a, lt.ones(2, 2, 2)), RuntimeError,
                        r"block_diag: Input tensors must have 2 or fewer dimensions.*\(2, 2, 2\)"),
    "linalg.cross: length": (lambda a, b, v: lt.linalg.cross(b, b), RuntimeError,
                             r"linalg.cross: inputs dimension -1 must have length 3.*\(4, 5\)"),
    "cdist: columns": (lambda a, b, v: lt.cdist(a, b), RuntimeError, r"cdist: .*same number of columns.*\(2, 3\) and \(4, 5\)"),
    "cdist: integers": (lambda a, b, v: lt.cdist(a.long(), a.long()), RuntimeError, r"cdist only supports floating-point.*int64"),
    "vector_norm: integers": (lambda a, b, v: lt.linalg.vector_norm(a.long(), dtype=lt.float32), RuntimeError,
                              r"linalg.vector_norm: Expected a floating point tensor.*int64.*\(2, 3\)"),
    "matrix_norm: order 3": (lambda a, b, v: lt.linalg.matrix_norm(a, 3), RuntimeError,
                             r"linalg.matrix_norm: Order 3 not supported.*\(2, 3\)"),
    "matrix_power: not square": (lambda a, b, v: lt.linalg.matrix_power(a, 2), RuntimeError,
                                 r"linalg.matrix_power: A must be a batch of square matrices.*\(2, 3\)"),
    "rot90: one dim twice": (lambda a, b, v: a.rot90(1, (0, -2)), RuntimeError, r"rot90: the two dims must differ"),
    "fliplr: a vector": (lambda a, b, v: v.fliplr(), RuntimeError, r"fliplr: Input must be >= 2-d.*\(3,\)"),
    "sum_to_size: not expandable": (lambda a, b, v: a.sum_to_size(2), RuntimeError,
                                    r"sum_to_size: size \[2\] is not expandable to size \[2, 3\]"),
    "cov: 3-D": (lambda a, b, v: lt.cov(a.reshape(1, 2, 3)), RuntimeError, r"cov\(\): .*two or fewer.*\(1, 2, 3\)"),
    "heaviside: dtypes": (lambda a, b, v: lt.heaviside(a, lt.tensor(1)), RuntimeError,
                          r"heaviside .*different dtypes: input float32 \(2, 3\), values int64"),
    "trapezoid: sample points": (lambda a, b, v: lt.trapezoid(a, lt.ones(2)), RuntimeError,
                                 r"trapezoid: There must be one `x` value for each sample point"),
    "tril_indices: negative size": (lambda a, b, v: lt.tril_indices(-1, 2), RuntimeError,
                                    r"tril_indices: row and col must be non-negative"),
    # torch takes no gradient for these arguments, and refuses one that asks for it
    "binary_cross_entropy: weight requires grad": (
        lambda a, b, v: F.binary_cross_entropy(a.sigmoid(), a * 0, weight=lt.ones(3, requires_grad=True)),
        RuntimeError, r"'binary_cross_entropy' is not differentiable with respect to argument 'weight' \(shape \(3,\)\)"),
    "bce_with_logits: pos_weight requires grad": (
        lambda a, b, v: F.binary_cross_entropy_with_logits(a, a * 0, pos_weight=lt.ones(3, requires_grad=True)),
        RuntimeError, r"'binary_cross_entropy_with_logits' is not differentiable with respect to argument 'pos_weight'"),
    "cross_entropy: weight requires grad": (
        lambda a, b, v: F.cross_entropy(a, lt.tensor([0, 2]), weight=lt.ones(3, requires_grad=True)),
        RuntimeError, r"'nll_loss_forward' is not differentiable with respect to argument 'weight'"),
    "multi_margin_loss: weight requires grad": (
        lambda a, b, v: F.multi_margin_loss(a, lt.tensor([0, 2]), weight=lt.ones(3, requires_grad=True)),
        RuntimeError, r"'multi_margin_loss' is not differentiable with respect to argument 'weight'"),
    "soft_margin_loss: target requires grad": (
        lambda a, b, v: F.soft_margin_loss(a, lt.ones(2, 3, requires_grad=True)),
        RuntimeError, r"'soft_margin_loss' is not differentiable with respect to argument 'target'"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_raises_at_the_call_and_changes_nothing(name):
    call, error, message = CASES[name]
    a, b, v = _t(2, 3), _t(4, 5), _t(3)
    before = [(t.numpy().copy(), t._storage.version) for t in (a, b, v)]
    with pytest.raises(error, match=message):
        out = call(a, b, v)
        if isinstance(out, lt.Tensor):  # never reached when the call raises, as it must
            out.numpy()
    for t, (values, version) in zip((a, b, v), before):
        np.testing.assert_array_equal(t.numpy(), values)
        assert t._storage.version == version
        np.testing.assert_array_equal((t * 2).numpy(), values * 2)  # still usable


def test_tensors_on_two_devices_raise_naming_both(device):
    from helpers import cl_unavailable_reason
    if cl_unavailable_reason() is not None:
        pytest.skip("needs both devices")
    other = "numpy" if device == "cl" else "cl"
    a = lt.ones(2, 3, device=device)
    with pytest.raises(RuntimeError, match=r"add: Expected all tensors to be on the same device.*cl.*numpy|"
                                           r"add: Expected all tensors to be on the same device.*numpy.*cl"):
        a + lt.ones(2, 3, device=other)
    assert a.tolist() == [[1.0] * 3] * 2


def test_a_failed_backward_keeps_the_gradients_as_they_were():
    x = lt.ones(2, requires_grad=True)
    (x * 2).sum().backward()
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for scalar outputs.*\(2,\)"):
        (x * 3).backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_a_leaf_written_in_place_raises_and_keeps_its_value():
    x = lt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        x.add_(1)
    assert x.tolist() == [1.0, 1.0] and x.requires_grad and x.is_leaf


# op -> a call reading x by the index tensor i (on another device)
INDEXING_ACROSS_DEVICES = {
    "gather": lambda x, i: x.gather(1, i),
    "take_along_dim": lambda x, i: x.take_along_dim(i, 1),
    "index_select": lambda x, i: x.index_select(1, i[0]),
    "scatter_add": lambda x, i: x.scatter_add(1, i, x),
    "embedding": lambda x, i: F.embedding(i, x),
}


@pytest.mark.parametrize("op", list(INDEXING_ACROSS_DEVICES))
def test_an_index_on_another_device_raises_naming_both(op):
    """The index tensors of gathers and scatters live on their input's device, as in PyTorch
    (the kernels would otherwise read a buffer of the other device as their own)."""
    from helpers import cl_unavailable_reason
    if cl_unavailable_reason() is not None:
        pytest.skip("needs both devices")
    x = lt.ones(2, 3, device="numpy")
    i = lt.zeros(2, 3, dtype=lt.int64, device="cl")
    with pytest.raises(RuntimeError, match=r"Expected all tensors to be on the same device.*(cl.*numpy|numpy.*cl)"):
        INDEXING_ACROSS_DEVICES[op](x, i).numpy()


def test_a_host_index_indexes_a_tensor_of_any_device_and_no_other_index_does():
    """x[i] takes an index tensor on the host's numpy device, as PyTorch takes a CPU index
    into a CUDA tensor; an index on another device than both raises."""
    from helpers import cl_unavailable_reason
    if cl_unavailable_reason() is not None:
        pytest.skip("needs both devices")
    x = lt.arange(6.0, device="cl").reshape(3, 2)
    assert x[lt.tensor([2, 0], device="numpy")].tolist() == [[4.0, 5.0], [0.0, 1.0]]
    with pytest.raises(RuntimeError, match=r"indices should be either on numpy or on the same device as the indexed "
                                           r"tensor \(numpy\), got indices on cl"):
        lt.ones(3, device="numpy")[lt.tensor([0], device="cl")]
