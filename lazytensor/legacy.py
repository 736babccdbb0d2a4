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


_CLASSES = {name: _typed(name, dtype) for name, dtype in D.BY_LEGACY_NAME.items()}
FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor = (_CLASSES[n] for n in (
    "FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor"))
LongTensor, IntTensor, ShortTensor, CharTensor, ByteTensor, BoolTensor = (_CLASSES[n] for n in (
    "LongTensor", "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"))


def get_default_dtype() -> D.DType:
    """The dtype of new floating-point tensors: float32."""
    return D.float32


def set_default_dtype(dtype) -> None:
    """Only float32 is supported as the default (the OpenCL devices may lack float64)."""
    if D.to_dtype(dtype) != D.float32:
        raise NotImplementedError(f"set_default_dtype: lazytensor's default dtype is float32; "
                                  f"{D.to_dtype(dtype).name} is not supported as the default "
                                  f"(pass dtype= to the ops that should make it)")
