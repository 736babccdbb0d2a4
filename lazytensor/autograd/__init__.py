"""Autograd as a pass over the IR: gradients are IR nodes, so backward fuses like forward."""
from .anomaly_mode import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly
from .api import backward, grad
from .function import Function, FunctionCtx
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from ..autodiff.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["backward", "grad", "Function", "FunctionCtx", "gradcheck", "gradgradcheck", "GradcheckError",
           "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode", "Variable",
           "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
           "functional"]


def __getattr__(name: str):
    """`functional` and `Variable` build on Tensor ops, whose modules import this package
    while they load: they are imported on first use."""
    import importlib
    if name == "functional":
        return importlib.import_module(f"{__name__}.functional")
    if name == "Variable":
        return importlib.import_module(f"{__name__}.variable").Variable
    raise AttributeError(f"module 'lazytensor.autograd' has no attribute {name!r}")
