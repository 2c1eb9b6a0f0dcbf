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


def world() -> Any:
    """MPI_COMM_WORLD (initialises MPI on first use)."""
    from mpi4py import MPI

    return MPI.COMM_WORLD


def self_comm() -> Any:
    """MPI_COMM_SELF: a one-rank communicator for runs in this process."""
    from mpi4py import MPI

    return MPI.COMM_SELF
