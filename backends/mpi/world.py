"""Where this process stands in MPI: started by an MPI launcher or not (the launchers'
environment, read by `backends.contract.launched_rank`), and the communicators."""

from __future__ import annotations

from typing import Any

from backends.contract import launched_rank


def under_mpiexec() -> bool:
    """True when an MPI launcher (mpiexec, mpirun, srun) started this process."""
    return launched_rank() is not None


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
