"""lt.distributed, as torch.distributed: processes that mpirun starts, joined by
init_process_group(backend="mpi"), and the collectives between them. Importing this needs
no MPI; init_process_group imports mpi4py (pip install "lazytensor[distributed]")."""
from .backend import (BACKENDS, GroupMember, destroy_process_group, get_backend, get_rank,  # noqa: F401
                      get_world_size, group, init_process_group, is_available, is_initialized,
                      is_mpi_available)
from .collectives import (Work, all_gather, all_gather_into_tensor, all_reduce, barrier, broadcast,  # noqa: F401
                          reduce, reduce_scatter, reduce_scatter_tensor)
from .objects import all_gather_object, broadcast_object_list  # noqa: F401
from .reduce_op import ReduceOp  # noqa: F401
from .stats import reset_stats, stats  # noqa: F401
