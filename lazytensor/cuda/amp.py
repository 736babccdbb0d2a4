"""torch.cuda.amp, as older scripts import it: the same autocast and GradScaler."""
from ..amp import GradScaler, autocast  # noqa: F401
