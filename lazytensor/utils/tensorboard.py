"""torch.utils.tensorboard has no lazytensor counterpart: importing it says so, and what to use."""
raise ImportError(
    "lazytensor.utils.tensorboard does not exist: lazytensor has no TensorBoard writer. Log scalars "
    "with `tensorboardX.SummaryWriter` (pip install tensorboardX), passing `loss.item()` and other Python "
    "numbers, or with `torch.utils.tensorboard` from PyTorch itself.",
    name="lazytensor.utils.tensorboard")
