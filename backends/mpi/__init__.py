"""The mpi backend: the cpu engine's parts distributed over MPI ranks (mpi4py).

`decompose` groups the compiled placement's cores into ranks balanced by a cost estimate;
each rank (`rank_sim.RankSimulator`) holds its neurons and the synapses onto them and
exchanges spike ids with the ranks that hold targets (`exchange`); rank 0 gathers the
results (`collect`). `backend.BACKEND` is the `backends.contract.Backend`; see docs/mpi.md.
"""
