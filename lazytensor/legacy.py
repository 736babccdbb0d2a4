"""PyTorch's legacy typed tensor classes (FloatTensor, LongTensor, ...): constructors from
data or sizes, and isinstance checks by dtype, as old scripts use them."""
from __future__ import annotations

from .ir import dtype as D
from .tensor import Tensor


class _TypedTensorMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __call__(cls, *args):
        """FloatTensor([1, 2]) from data, FloatTensor(2, 3) uninitialised (zeros here)."""
        from .creation import tensor, zeros
        if len(args) == 1 and not isinstance(args[0], int):
            return tensor(args[0], dtype=cls.dtype)
        return zeros(*args, dtype=cls.dtype)


def _typed(name: str, dtype: D.DType) -> type:
    return _TypedTensorMeta(name, (), {"dtype": dtype, "__doc__": f"torch.{name}: a {dtype.name} tensor."})


FloatTensor = _typed("FloatTensor", D.float32)
DoubleTensor = _typed("DoubleTensor", D.float64)
HalfTensor = _typed("HalfTensor", D.float16)
BFloat16Tensor = _typed("BFloat16Tensor", D.bfloat16)
LongTensor = _typed("LongTensor", D.int64)
IntTensor = _typed("IntTensor", D.int32)
BoolTensor = _typed("BoolTensor", D.bool_)
ByteTensor = _typed("ByteTensor", D.uint8)


def get_default_dtype() -> D.DType:
    """The dtype of new floating-point tensors: float32."""
    return D.float32


def set_default_dtype(dtype) -> None:
    """Only float32 is supported as the default (the OpenCL devices may lack float64)."""
    if D.to_dtype(dtype) != D.float32:
        raise NotImplementedError(f"set_default_dtype: lazytensor's default dtype is float32; "
                                  f"{D.to_dtype(dtype).name} is not supported as the default "
                                  f"(pass dtype= to the ops that should make it)")
