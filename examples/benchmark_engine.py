"""Benchmark: the jump engine against QuTiP 5 ``mcsolve``, one thread each.

Every contender unravels the same model from the same pure initial state over the
same horizon (~20 jumps per trajectory at the steady state) and estimates
p_suc = Tr[(Pi_A x Pi_B) rho(T)] at the horizon with the same estimator (the mean of
the per-trajectory values, SE = sample standard deviation / sqrt(N)). Contenders:

* ``ours``: ``trajectories.simulate`` (the compiled kernel; each run about as many
  trajectories as a 1% SE needs, so that its fixed costs weigh as in real use);
* ``qutip-diag``: ``mcsolve`` with ``method="diag"`` (exact between jumps, like ours;
  the strongest QuTiP configuration for a constant Hamiltonian, and the peer of the
  speed-up printed last);
* ``qutip-default``: ``mcsolve`` with its default integrator (vern7, atol 1e-8,
  rtol 1e-6).

QuTiP gets the interaction-picture Hamiltonian (the free part dropped, as a careful
user would) and ``map="serial"``. Cases: the two-qutrit reset machine (Eq. 4,
D = 9), the ``lindblad-fig5b`` preset (Eq. F6, T_A = 6, T_B = 0.3, D = 9) and the
qudit reset machine at d = 9 (Eqs. 9-10, D = 100). The initial state is one
eigenvector of the exact steady state, drawn with its weight; the exact p_suc(T) from
it (``exact.evolve``) is the reference of every estimate.

Timing: CPU time of this process (``time.process_time``; BLAS limited to one thread
before numpy loads), contenders interleaved within each of ``REPEATS`` rounds (the
order rotates), a fresh seed per run. Per run: the CPU time for a 1% relative SE,
(time per trajectory) x sigma^2 / (0.01 p_suc)^2; per case: its median and range
over the rounds for each contender, and the speed-up (peer time / our time at equal
error) as the median and range of the per-round ratios.

    python examples/benchmark_engine.py          # about 3 minutes on one core

The last line is ``speedup reset=<x> lindblad=<y>``: the median speed-ups over the
``qutip-diag`` peer.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from dataclasses import dataclass

# one thread for every contender: set before numpy (and its BLAS) is loaded
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import numpy as np
import qutip
import scipy
from numpy.typing import NDArray

from trajectories.exact.states import evolve, herald, steady_state
from trajectories.pipeline.config import load_config
from trajectories.simulation import simulate
from trajectories.system.machines import qudit, qutrit
from trajectories.system.models import OpenSystem, ResetModel

SEED = 2024
REPEATS = 3
JUMPS_PER_TRAJECTORY = 20.0
"""The horizon of each model: this many jumps per trajectory at the steady state."""
REL_SE = 0.01
"""Target relative standard error of p_suc for the equal-error comparison."""
CHUNK_SIZE = 16384
QUTIP_BASE: dict[str, object] = {
    "map": "serial",
    "progress_bar": False,
    "store_states": False,
    "store_final_state": False,
    "keep_runs_results": True,
    "improved_sampling": False,
}
QUTIP_METHODS: dict[str, dict[str, object]] = {
    "qutip-diag": {"method": "diag"},
    "qutip-default": {"method": "vern7", "atol": 1e-8, "rtol": 1e-6},
}
PEER = "qutip-diag"


@dataclass(frozen=True)
class Case:
    """A model with the number of trajectories each contender runs per round."""

    label: str
    key: str
    model: OpenSystem
    n_traj: dict[str, int]


@dataclass(frozen=True)
class Run:
    """One timed run of a contender: CPU cost and p_suc estimate."""

    engine: str
    n_traj: int
    seconds: float
    jumps: int
    p_suc: float
    se: float

    @property
    def sigma(self) -> float:
        """Per-trajectory standard deviation of p_suc(T)."""
        return self.se * math.sqrt(self.n_traj)

    def seconds_for(self, se_target: float) -> float:
        """CPU time to reach standard error ``se_target`` (SE ~ sigma / sqrt(N))."""
        return self.seconds / self.n_traj * (self.sigma / se_target) ** 2


@dataclass(frozen=True)
class Reference:
    """Exact quantities of a case: initial state, horizon and p_suc values."""

    psi0: NDArray[np.complex128]
    weight: float
    horizon: float
    p_steady: float
    p_exact: float


def reference(model: OpenSystem, rng: np.random.Generator) -> Reference:
    """Draw the initial state from the exact steady state; set the horizon from the
    steady jump rate Tr[G rho] (G = sum_k L_k^dag L_k); p_suc exactly at T."""
    rho = steady_state(model)
    weights, vectors = np.linalg.eigh(rho)
    weights = np.clip(weights, 0.0, None)
    k = int(rng.choice(weights.size, p=weights / weights.sum()))
    psi0 = np.ascontiguousarray(vectors[:, k])
    G = sum((L.op.conj().T @ L.op).toarray() for L in model.jump_operators())
    horizon = JUMPS_PER_TRAJECTORY / float(np.trace(G @ rho).real)
    filt = model.machine.filter
    rho_T = evolve(model, np.outer(psi0, psi0.conj()), [horizon])[0]
    return Reference(
        psi0,
        float(weights[k]),
        horizon,
        herald(rho, filt).p_suc,
        herald(rho_T, filt).p_suc,
    )


def run_ours(model: OpenSystem, ref: Reference, n_traj: int, seed: int) -> Run:
    """Time ``simulate`` on ``n_traj`` trajectories."""
    start = time.process_time()
    ens = simulate(
        model,
        n_traj=n_traj,
        rng=np.random.default_rng(seed),
        t_max=ref.horizon,
        sample_times=[ref.horizon],
        initial=ref.psi0,
        chunk_size=CHUNK_SIZE,
    )
    seconds = time.process_time() - start
    mean, se = ens.observable("p_suc")
    jumps = int(ens.counts().to_numpy().sum())
    return Run("ours", n_traj, seconds, jumps, float(mean[-1]), float(se[-1]))


def run_qutip(
    engine: str, model: OpenSystem, ref: Reference, n_traj: int, seed: int
) -> Run:
    """Time ``qutip.mcsolve`` on ``n_traj`` trajectories (Qobj building included)."""
    dims = list(model.machine.dims)
    start = time.process_time()
    H, c_ops = model.to_qutip(interaction_picture=True)
    projector = qutip.Qobj(model.machine.filter.success_projector(), dims=[dims, dims])
    ket = qutip.Qobj(ref.psi0, dims=[dims, [1] * len(dims)])
    result = qutip.mcsolve(
        H,
        ket,
        [0.0, ref.horizon],
        c_ops,
        e_ops=[projector],
        ntraj=n_traj,
        seeds=seed,
        options={**QUTIP_BASE, **QUTIP_METHODS[engine]},
    )
    seconds = time.process_time() - start
    if not np.allclose(result.runs_weights, 1.0 / n_traj):
        raise RuntimeError("mcsolve weighted its trajectories unequally")
    values = np.real(np.asarray(result.runs_expect[0]))[:, -1]
    jumps = sum(len(which) for which in result.col_which)
    se = float(values.std(ddof=1) / math.sqrt(n_traj))
    return Run(engine, n_traj, seconds, jumps, float(values.mean()), se)


def run(engine: str, case: Case, ref: Reference, n_traj: int, seed: int) -> Run:
    """One timed run of ``engine`` on ``case``."""
    if engine == "ours":
        return run_ours(case.model, ref, n_traj, seed)
    return run_qutip(engine, case.model, ref, n_traj, seed)


def rounds(case: Case, ref: Reference) -> list[dict[str, Run]]:
    """``REPEATS`` rounds of every contender, interleaved, the order rotating."""
    engines = list(case.n_traj)
    for engine in engines:  # warm-up: imports, caches, compiled code
        run(engine, case, ref, 64 if engine == "ours" else 4, SEED)
    out = []
    for r in range(REPEATS):
        order = engines[r % len(engines) :] + engines[: r % len(engines)]
        seeds = {e: SEED + 100 * r + i for i, e in enumerate(engines)}
        out.append({e: run(e, case, ref, case.n_traj[e], seeds[e]) for e in order})
    return out


def spread(values: list[float]) -> str:
    """Median [min, max]."""
    return f"{statistics.median(values):.4g} [{min(values):.4g}, {max(values):.4g}]"


def compare(case: Case) -> dict[str, list[float]]:
    """Run every contender on ``case``; print the table; return the per-round
    speed-ups of ours over each peer at equal statistical error."""
    ref = reference(case.model, np.random.default_rng(SEED))
    print(f"\n{case.label}: {case.model!r}")
    print(
        f"  horizon T = {ref.horizon:.6g} ({JUMPS_PER_TRAJECTORY:g} jumps per "
        f"trajectory at the steady state); psi0 = steady-state eigenvector of "
        f"weight {ref.weight:.4f}; exact p_suc(T) = {ref.p_exact:.6f} (steady "
        f"{ref.p_steady:.6f})"
    )
    results = rounds(case, ref)
    se_target = REL_SE * ref.p_exact
    print_table(results, ref, se_target)
    ours = [r["ours"].seconds_for(se_target) for r in results]
    speedups = {
        e: [r[e].seconds_for(se_target) / o for r, o in zip(results, ours, strict=True)]
        for e in case.n_traj
        if e != "ours"
    }
    for engine, values in speedups.items():
        print(f"  speed-up over {engine} at equal error: {spread(values)}")
    return speedups


def print_table(
    results: list[dict[str, Run]], ref: Reference, se_target: float
) -> None:
    """Per contender: CPU time, jumps/s, the estimate and its worst z, and the CPU
    time for a 1% SE (median [min, max] over the rounds)."""
    print(
        f"  {'engine':<14} {'n_traj':>7} {'CPU s':>22} {'jumps/s':>22} "
        f"{'max|z|':>6} {'CPU s for 1% SE':>26}"
    )
    for engine in results[0]:
        runs = [r[engine] for r in results]
        z = max(abs(x.p_suc - ref.p_exact) / x.se for x in runs)
        print(
            f"  {engine:<14} {runs[0].n_traj:>7} "
            f"{spread([x.seconds for x in runs]):>22} "
            f"{spread([x.jumps / x.seconds for x in runs]):>22} {z:>6.2f} "
            f"{spread([x.seconds_for(se_target) for x in runs]):>26}"
        )


def print_machine() -> None:
    """The machine and library versions."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}".rstrip()
        + f", os.cpu_count() = {os.cpu_count()}, load average {load[0]:.2f}"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, qutip {qutip.__version__}; "
        f"OPENBLAS/OMP/MKL_NUM_THREADS = 1, one process, CPU time, {REPEATS} "
        "interleaved rounds"
    )
    for engine, opts in QUTIP_METHODS.items():
        text = ", ".join(f"{k}={v!r}" for k, v in {**QUTIP_BASE, **opts}.items())
        print(f"{engine}: mcsolve({text})")


def cases() -> list[Case]:
    """The reset qutrit, the lindblad-fig5b preset and a D = 100 qudit machine."""
    n = {"ours": 8 * CHUNK_SIZE, "qutip-diag": 6000, "qutip-default": 3000}
    return [
        Case("reset machine", "reset", ResetModel(qutrit(g=0.01), 0.002, 0.01), n),
        Case(
            "Lindblad machine (lindblad-fig5b preset)",
            "lindblad",
            load_config("lindblad-fig5b").build_model(),
            {"ours": 8 * CHUNK_SIZE, "qutip-diag": 6000, "qutip-default": 3000},
        ),
        Case(
            "qudit reset machine, d = 9 (D = 100)",
            "qudit-d9",
            ResetModel(qudit(9, g=0.01), 0.002, 0.01),
            {"ours": CHUNK_SIZE, "qutip-diag": 1500, "qutip-default": 500},
        ),
    ]


def main() -> None:
    """Run the comparisons; print the median speed-ups over the diag peer last."""
    print_machine()
    medians = {}
    for case in cases():
        medians[case.key] = statistics.median(compare(case)[PEER])
    print(
        f"\nmedian speed-ups over {PEER}: "
        + ", ".join(f"{k}={v:.1f}" for k, v in medians.items())
    )
    print(f"speedup reset={medians['reset']:.1f} lindblad={medians['lindblad']:.1f}")


if __name__ == "__main__":
    main()
