"""Spike exchange between ranks: each step, the ids of the neurons that fired go only to
the ranks that hold a target of theirs, with `Alltoall` (counts) + `Alltoallv` (ids).

Both collectives are non-blocking requests polled against a deadline, so a rank that
stops answering ends the job (MPI_Abort) after `timeout_s` instead of hanging it.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from compiler.errors import BackendError

DEFAULT_TIMEOUT_S = 600.0  # no exchange may take longer (SNNC_MPI_TIMEOUT overrides)
SPIN = 50  # polls before each yield of the core (ranks may share cores)


def collective_timeout() -> float:
    """Seconds one collective may take before the job is aborted (SNNC_MPI_TIMEOUT)."""
    text = os.environ.get("SNNC_MPI_TIMEOUT")
    try:
        value = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        value = DEFAULT_TIMEOUT_S
    return value if value > 0 else DEFAULT_TIMEOUT_S


def wait_for(req: Any, timeout_s: float, what: str) -> None:
    """Poll request `req` until done; BackendError when `timeout_s` passes first."""
    deadline = time.monotonic() + timeout_s
    n = 0
    while not req.Test():
        n += 1
        if n % SPIN == 0:
            os.sched_yield()
            if time.monotonic() > deadline:
                raise BackendError(f"{what}: no answer from the other ranks within "
                                   f"{timeout_s:g} s (SNNC_MPI_TIMEOUT)")


def alltoallv_ids(comm: Any, parts: list[np.ndarray], what: str) -> list[np.ndarray]:
    """Send `parts[r]` (int64 ids) to rank r; the ids every rank sent here, by rank."""
    from mpi4py import MPI

    size = comm.Get_size()
    scount = np.array([p.shape[0] for p in parts], dtype=np.int64)
    rcount = np.zeros(size, dtype=np.int64)
    timeout = collective_timeout()
    wait_for(comm.Ialltoall(scount, rcount), timeout, what)
    send = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
    recv = np.empty(int(rcount.sum()), dtype=np.int64)
    sdis = np.r_[0, np.cumsum(scount)[:-1]].astype(np.int64)
    rdis = np.r_[0, np.cumsum(rcount)[:-1]].astype(np.int64)
    wait_for(comm.Ialltoallv([send, (scount, sdis), MPI.INT64_T],
                             [recv, (rcount, rdis), MPI.INT64_T]), timeout, what)
    return np.split(recv, np.cumsum(rcount)[:-1])


class SpikeExchange:
    """Routes the global spike ids of one step: `route[r]` is a bool mask over this rank's
    sendable neurons (in `ids` order) of those with a target on rank r.

    Per step an `Alltoall` of (id count, compute ns since the previous exchange) pairs,
    then an `Alltoallv` of the ids, whose messages are empty between ranks without
    targets. The compute times tell waiting for the slowest rank (wait: the slowest
    rank's compute minus this rank's) apart from the rest of the collectives (exchange)."""

    def __init__(self, comm: Any, route: np.ndarray, timeout_s: float | None = None):
        self.comm = comm
        self.size = comm.Get_size()
        self.route = route  # (size, n_local) bool
        self.timeout_s = collective_timeout() if timeout_s is None else timeout_s
        self.shead = np.zeros((self.size, 2), dtype=np.int64)  # (count, compute ns)
        self.rhead = np.zeros((self.size, 2), dtype=np.int64)
        self.sdis = np.zeros(self.size, dtype=np.int64)
        self.rdis = np.zeros(self.size, dtype=np.int64)
        self.wait_s = 0.0
        self.exchange_s = 0.0
        self.sent = 0  # ids sent to other ranks

    def exchange(self, spiking: np.ndarray, gids: np.ndarray, compute_s: float = 0.0
                 ) -> np.ndarray:
        """Send `gids[spiking]` (local positions -> global ids) where routed; returns the
        ids received from every rank (this one included), unsorted. `compute_s`: this
        rank's compute time since the previous exchange."""
        if self.size == 1:  # one rank: nothing to send anywhere
            return gids[spiking[self.route[0][spiking]]]
        from mpi4py import MPI

        parts = [gids[spiking[self.route[r][spiking]]] for r in range(self.size)]
        for r, p in enumerate(parts):
            self.shead[r, 0] = p.shape[0]
        self.shead[:, 1] = int(compute_s * 1e9)
        t0 = time.perf_counter()
        wait_for(self.comm.Ialltoall(self.shead, self.rhead), self.timeout_s,
                 "spike exchange (counts)")
        scount = np.ascontiguousarray(self.shead[:, 0])
        rcount = np.ascontiguousarray(self.rhead[:, 0])
        send = np.concatenate(parts)
        recv = np.empty(int(rcount.sum()), dtype=np.int64)
        np.cumsum(scount[:-1], out=self.sdis[1:])
        np.cumsum(rcount[:-1], out=self.rdis[1:])
        wait_for(self.comm.Ialltoallv([send, (scount, self.sdis), MPI.INT64_T],
                                      [recv, (rcount, self.rdis), MPI.INT64_T]),
                 self.timeout_s, "spike exchange (ids)")
        spent = time.perf_counter() - t0
        wait = min(spent, max(0.0, float(self.rhead[:, 1].max()) * 1e-9 - compute_s))
        self.wait_s += wait
        self.exchange_s += spent - wait
        self.sent += int(scount.sum() - scount[self.comm.Get_rank()])
        return recv
