"""lt.backends, as torch.backends: the flags training scripts set. lazytensor has no cuDNN,
TF32 or MPS, so the flags are accepted and recorded and change nothing."""
from __future__ import annotations

from types import SimpleNamespace

cuda = SimpleNamespace(matmul=SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True),
                       is_built=lambda: False)
cudnn = SimpleNamespace(allow_tf32=True, benchmark=False, deterministic=False, enabled=True,
                        is_available=lambda: False)
mps = SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
