"""lt.nn.parallel, as torch.nn.parallel: DistributedDataParallel (over lt.distributed)."""
from .distributed import DistributedDataParallel  # noqa: F401
