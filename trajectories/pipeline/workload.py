"""A pre-flight estimate of the work of a run, and its refusal above ``LIMITS``.

Checked before the run directory is created and printed on stderr when the run
starts (``cli``):

* jumps: a machine jumps at the total rate r = sum_k Tr[L_k rho L_k^dag] =
  Tr[G rho], G = sum_k L_k^dag L_k: r = p_A + p_B whatever the state for the reset
  model (Eq. 4), the exact steady state's rate otherwise (Eq. F1), for b +
  attempts T (b the burn-in), so a grid point expects n_traj r (b + attempts T)
  jumps;
* records: one attempts row per machine and attempt, one runs row per machine (its
  success branch: 2 k columns, k = dim of rho'), the states rows of each batch, and
  their bytes on disk (the tables' layouts at the parquet sizes measured on typical
  runs, ``*_DISK``);
* CPU time: a cost per event (jump or attempt) growing with D, a set-up per batch,
  and the exact references of the summary and the report, dense on the chain's
  support R (R^3 for e^{LT}, attempts R^2 for the law of K); the constants
  (``CPU``) are fitted by ``examples/calibrate_workload.py`` to runs on the 2-core
  development machine;
* the peak memory of one batch (``MEMORY``).

The grid size is checked before the grid is built (``check_grid_size``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from trajectories.exact.states import steady_state
from trajectories.pipeline.batches import RELAXATION_SAMPLES
from trajectories.pipeline.config import RunConfig
from trajectories.pipeline.schema import ConfigError
from trajectories.system.models import OpenSystem

LIMITS = {"cpu_hours": 24.0, "disk_gb": 50.0, "batch_gb": 8.0, "points": 10**4}
"""Above these a run is refused unless --force: CPU hours, GB of records on disk,
GB of memory per batch, grid points."""

CPU = {
    "setup": 0.057,  # s per batch
    "setup_D2": 0.0,  # s per batch and D^2 (steady state, Liouvillian, channels)
    "event_D": 3.9e-8,  # s per event (jump or attempt) and level
    "row": 2.2e-8,  # s per attempt (its measurement, its row, the summary)
    "cube": 3.3e-9,  # s per R^3 (e^{LT} on the chain's support, summary + report)
    "law": 3.7e-9,  # s per attempt and R^2 (the law of K)
    "fixed": 3.3,  # s per point (imports, figures)
}
"""Constants of the CPU-time model, fitted by ``examples/calibrate_workload.py
--fit`` to 11 runs (D = 9 to 1089, 6 to 2000 attempts) on the 2-core development
machine with the compiled kernel: within 21% of each run's measured CPU time there
(fitted / measured 0.79 to 1.12)."""

DISK = {"attempt_row": 3.0, "run_row": 16.0, "phi_column": 0.6, "state_row": 60.0}
"""Bytes on disk: per attempts row, per runs row plus per success-branch column,
per states row (parquet, measured on the default, relaxation, Lindblad and qudit
d = 20, 32 runs: 0.7-3.0 B per attempt row, 0.6 B per branch column)."""

MEMORY = {"base": 3e8, "attempt_row": 150.0, "event": 16.0, "state_vector": 200.0}
"""Bytes of a batch: the process, per attempts row (recorder, table), per event
(jump codes), per machine and level of the chunk arrays, plus the (D, D) sums."""

CHUNK = 4096
"""Machines simulated at once in a batch (``run_heralding``'s default)."""


@dataclass(frozen=True)
class Workload:
    """Expected work of a run (or of one grid point)."""

    points: int
    jumps: float
    attempt_rows: float
    machine_rows: float
    state_rows: float
    disk_bytes: float
    batch_bytes: float  # the largest batch
    cpu_seconds: float

    def __add__(self, other: Workload) -> Workload:
        values = [
            max(a, b) if f.name == "batch_bytes" else a + b
            for f, a, b in zip(fields(self), _values(self), _values(other), strict=True)
        ]
        return Workload(*values)

    def scaled(self, factor: float) -> Workload:
        """The work of ``factor`` times as many points like these."""
        return Workload(
            *(
                v if f.name == "batch_bytes" else v * factor
                for f, v in zip(fields(self), _values(self), strict=True)
            )
        )


def _values(w: Workload) -> list[float]:
    return [getattr(w, f.name) for f in fields(w)]


def grid_size(config: RunConfig) -> int:
    """Points of the sweep grid, from the lengths of its axes (no grid built)."""
    return math.prod(len(values) for values in config.sweep.values())


def check_grid_size(config: RunConfig, force: bool) -> None:
    """Refuse a sweep of more than ``LIMITS["points"]`` points (before the grid is
    built), unless ``force``."""
    n = grid_size(config)
    if n > LIMITS["points"] and not force:
        raise ConfigError(
            f"the sweep has {n} grid points, above the limit of {LIMITS['points']}: "
            "sweep fewer values, or pass --force to run it anyway"
        )


def chain_sizes(model: OpenSystem) -> tuple[int, int, int]:
    """(D, R, k): the levels, the entries of vec(rho) the exact references work on
    (populations and the coherences inside each block H_int couples, App. B, C)
    and the dimension of rho'."""
    m = model.machine
    H = model.hamiltonian(True)
    _, label = connected_components(sp.csr_array(H != 0), directed=False)
    blocks = np.bincount(label)
    R = m.dim + int(np.sum(blocks * (blocks - 1)))
    return m.dim, R, int(m.filter.isometry().shape[1])


def jump_rate(model: OpenSystem) -> float:
    """Total jump rate Tr[G rho] of a machine, G = sum_k L_k^dag L_k: the same in
    every state where G is a multiple of 1 (reset model), else in the exact steady
    state."""
    D = model.machine.dim
    G = sp.csr_array((D, D), dtype=complex)
    for op in model.jump_operators():
        L = sp.csr_array(op.op)
        G = G + L.conj().T @ L
    diag = G.diagonal().real
    uniform = np.ptp(diag) <= 1e-12 * max(float(diag.max()), 1e-300)
    if uniform and G.count_nonzero() == np.count_nonzero(diag):
        return float(diag[0])
    rho = steady_state(model)
    return float(np.real(np.sum(G.multiply(rho.T))))


def estimate_point(point: RunConfig) -> Workload:
    """The expected work of one grid point (module docstring)."""
    model = point.build_model()
    D, R, k = chain_sizes(model)
    n, m = point.sampling.n_traj, min(point.sampling.batch_size, point.sampling.n_traj)
    A, T, b = point.protocol.attempts, point.protocol.attempt_period, point.burn_in
    n_batches = math.ceil(n / m)
    jumps = n * jump_rate(model) * (b + A * T)
    events = jumps + n * A
    samples = 1 + (RELAXATION_SAMPLES if b > 0 else 0)
    S = (D + R) / 2  # the states' elements: populations and coherences i < j
    state_rows = n_batches * (samples + 1) * (1 + S)
    disk = (
        n * A * DISK["attempt_row"]
        + n * (DISK["run_row"] + 2 * k * DISK["phi_column"])
        + state_rows * DISK["state_row"]
    )
    per_machine = (A * MEMORY["attempt_row"] + events / n * MEMORY["event"]) + (
        2 * k + 8
    ) * 16
    batch = (
        MEMORY["base"]
        + m * per_machine
        + min(m, CHUNK) * D * MEMORY["state_vector"]
        + (samples + 4) * 2 * 16 * D**2
    )
    c = CPU
    cpu = (
        c["fixed"]
        + n_batches * (c["setup"] + c["setup_D2"] * D**2)
        + events * c["event_D"] * D
        + n * A * c["row"]
        + 2 * c["cube"] * R**3
        + c["law"] * A * R**2
    )
    return Workload(1, jumps, n * A, n, state_rows, disk, batch, cpu)


SAMPLED_POINTS = 16
"""Grid points estimated in a sweep (spread over the grid, scaled to all)."""


def estimate(config: RunConfig) -> Workload:
    """The expected work of a run: every grid point, or ``SAMPLED_POINTS`` of a
    larger sweep spread over the grid and scaled to its size."""
    points = config.points()
    pick = np.unique(np.linspace(0, len(points) - 1, SAMPLED_POINTS).round())
    pick = pick.astype(int) if len(points) > SAMPLED_POINTS else range(len(points))
    total = None
    for i in pick:
        w = estimate_point(points[i])
        total = w if total is None else total + w
    return total.scaled(len(points) / len(pick))


def format_workload(w: Workload) -> str:
    """One line: jumps, records, disk, memory per batch and CPU time."""
    where = f" over {w.points:.0f} points" if w.points > 1 else ""
    return (
        f"work estimate{where}: {w.jumps:.2g} jumps, {w.attempt_rows:.2g} attempt "
        f"rows + {w.machine_rows:.2g} machine rows ({_bytes(w.disk_bytes)} of "
        f"records), {_bytes(w.batch_bytes)} per batch, ~{_duration(w.cpu_seconds)} "
        "CPU"
    )


def check_workload(config: RunConfig, force: bool) -> Workload:
    """The estimate of ``config``'s work; a ConfigError naming the estimate, the
    limit and --force for a run above ``LIMITS`` (unless ``force``)."""
    w = estimate(config)
    over = [
        (
            f"~{_duration(w.cpu_seconds)} of CPU",
            f"{LIMITS['cpu_hours']:g} h",
            w.cpu_seconds > 3600 * LIMITS["cpu_hours"],
            "sampling.n_traj, protocol.attempts, protocol.attempt_period or the rates",
        ),
        (
            f"{_bytes(w.disk_bytes)} of records",
            f"{LIMITS['disk_gb']:g} GB",
            w.disk_bytes > 1e9 * LIMITS["disk_gb"],
            "sampling.n_traj or protocol.attempts",
        ),
        (
            f"{_bytes(w.batch_bytes)} of memory per batch",
            f"{LIMITS['batch_gb']:g} GB",
            w.batch_bytes > 1e9 * LIMITS["batch_gb"],
            "sampling.batch_size",
        ),
    ]
    for what, limit, exceeded, keys in over:
        if exceeded and not force:
            raise ConfigError(
                f"the run needs {what} (estimated), above the limit of {limit}: "
                f"reduce {keys}, or pass --force to run it anyway"
            )
    return w


def _bytes(x: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if x >= size:
            return f"{x / size:.3g} {unit}"
    return f"{x:.0f} B"


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.2g} {unit}"
    return f"{seconds:.2g} s"
