"""Where this process stands in MPI: started by an MPI launcher or not, and which rank.

Detected from the launchers' environment (MPICH / Intel MPI / Slurm PMI, Open MPI, PMIx)
without initialising MPI, so the command line can tell rank 0 (which alone prints and
writes files) from the others before anything runs.
"""

from __future__ import annotations

import os
from typing import Any

RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK")


def launched_rank() -> int | None:
    """This process's rank when an MPI launcher started it, else None."""
    for var in RANK_VARS:
        text = os.environ.get(var, "").strip()
        if text.isdigit():
            return int(text)
    return None


def under_mpiexec() -> bool:
    """True when an MPI launcher (mpiexec, mpirun, srun) started this process."""
    return launched_rank() is not None


def is_root() -> bool:
    """False only on the ranks other than 0 of a launched job: they print and write nothing."""
    rank = launched_rank()
    return rank is None or rank == 0


def mpi() -> Any:
    """mpi4py's MPI module (initialises MPI on first use); BackendError without mpi4py."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        from compiler.errors import BackendError

        raise BackendError(f"the mpi backend needs mpi4py and an MPI library ({exc}); "
                           "install the mpi4py and mpich packages (make installs them)") from None
    return MPI


def world() -> Any:
    """MPI_COMM_WORLD."""
    return mpi().COMM_WORLD


def self_comm() -> Any:
    """MPI_COMM_SELF: a one-rank communicator for runs in this process."""
    return mpi().COMM_SELF
