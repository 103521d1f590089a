"""Benchmark: the vectorised jump engine against QuTiP 5 ``mcsolve``, one core each.

Both engines unravel the same model from the same pure initial state over the same
horizon and estimate p_suc = Tr[(Pi_A x Pi_B) rho(T)] at the horizon T:

* the two-qutrit reset machine (Eq. 4), T_A = inf, T_B = 0;
* the fluxonium Lindblad machine of Fig. 5(b) (Eqs. F1, F6), at T_A = 10, T_B = 0.2
  (p_suc ~ 2.4%, negativity 0.185 with ``analysis.measures.negativity``; at T_A = 3
  p_suc is 0.7%, and QuTiP would need ~3x more trajectories for an equally accurate
  variance).

QuTiP gets the interaction-picture Hamiltonian (the free part dropped, as a careful
user would), ``map="serial"`` and its default tolerances, listed in the output. The
initial state is one eigenvector of the exact steady state, drawn with its weight; the
exact p_suc(T) from that state (``exact.evolve``) is the reference of both estimates.

    python examples/benchmark_engine.py

For each model it prints, per engine: trajectories and jumps per second, the p_suc
estimate with its standard error and its z against the exact value, the per-trajectory
standard deviation, and the wall time needed for a 1% relative standard error,
extrapolated as (time per trajectory) x sigma^2 / (0.01 p_suc)^2, with p_suc the
exact value. The engines run different numbers of trajectories (QuTiP's are enough for
a variance within ~5%, and the script takes about a minute on two cores); every ratio
is per trajectory or per unit of statistical error, so this does not bias them. Then
the jump rate of our engine alone on a large reset ensemble (target: >= 1e6 jumps/s
per core). Timings are single measurements: other load on the machine (its load
average is printed) moves them by tens of percent. The last line is

    speedup reset=<x> lindblad=<y>

the ratios of the two engines' wall times at equal statistical error.
"""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import dataclass

# one core for both engines: set before numpy (and its BLAS) is loaded
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import numpy as np
import qutip
import scipy
from numpy.typing import NDArray

from trajectories.exact.states import evolve, herald, steady_state
from trajectories.paper.lindblad import CAPTION
from trajectories.simulation import simulate
from trajectories.system.machines import qutrit
from trajectories.system.models import LindbladModel, OpenSystem, ResetModel

SEED = 2024
JUMPS_PER_TRAJECTORY = 20.0
"""The horizon of each model: this many jumps per trajectory at the steady state."""
REL_SE = 0.01
"""Target relative standard error of p_suc for the equal-error comparison."""
CHUNK_SIZE = 16384
LARGE_N = 200_000
TARGET_JUMPS_PER_S = 1e6
QUTIP_OPTIONS: dict[str, object] = {
    "map": "serial",
    "progress_bar": False,
    "store_states": False,
    "store_final_state": False,
    "keep_runs_results": True,
    "improved_sampling": False,
    "method": "vern7",
    "atol": 1e-8,
    "rtol": 1e-6,
    "norm_tol": 1e-4,
    "norm_t_tol": 1e-6,
}
"""mcsolve options: QuTiP 5.3's defaults made explicit, plus per-run results."""


@dataclass(frozen=True)
class Case:
    """A model with the number of trajectories each engine runs."""

    label: str
    model: OpenSystem
    n_ours: int
    n_qutip: int


@dataclass(frozen=True)
class Run:
    """One timed run of an engine: cost and p_suc estimate."""

    engine: str
    n_traj: int
    seconds: float
    jumps: int
    p_suc: float
    se: float
    kurtosis: float = math.nan  # of p_suc(T) per trajectory, where values are kept

    @property
    def sigma(self) -> float:
        """Per-trajectory standard deviation of p_suc(T)."""
        return self.se * math.sqrt(self.n_traj)

    def seconds_for(self, se_target: float) -> float:
        """Wall time to reach standard error ``se_target`` (SE ~ sigma / sqrt(N))."""
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
    start = time.perf_counter()
    ens = simulate(
        model,
        n_traj=n_traj,
        rng=np.random.default_rng(seed),
        t_max=ref.horizon,
        sample_times=[ref.horizon],
        initial=ref.psi0,
        chunk_size=CHUNK_SIZE,
    )
    seconds = time.perf_counter() - start
    mean, se = ens.observable("p_suc")
    jumps = int(ens.counts().to_numpy().sum())
    return Run("ours", n_traj, seconds, jumps, float(mean[-1]), float(se[-1]))


def run_qutip(model: OpenSystem, ref: Reference, n_traj: int, seed: int) -> Run:
    """Time ``qutip.mcsolve`` on ``n_traj`` trajectories (Qobj building included)."""
    dims = list(model.machine.dims)
    start = time.perf_counter()
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
        options=QUTIP_OPTIONS,
    )
    seconds = time.perf_counter() - start
    if not np.allclose(result.runs_weights, 1.0 / n_traj):
        raise RuntimeError("mcsolve weighted its trajectories unequally")
    values = np.real(np.asarray(result.runs_expect[0]))[:, -1]
    jumps = sum(len(which) for which in result.col_which)
    se = float(values.std(ddof=1) / math.sqrt(n_traj))
    dev = values - values.mean()
    kurtosis = float(np.mean(dev**4) / np.mean(dev**2) ** 2)
    return Run("qutip", n_traj, seconds, jumps, float(values.mean()), se, kurtosis)


def warm_up(model: OpenSystem, ref: Reference) -> None:
    """Run both engines once on a few trajectories (imports, caches)."""
    run_ours(model, ref, 64, SEED)
    run_qutip(model, ref, 4, SEED)


def compare(case: Case) -> float:
    """Run both engines on ``case``, print the table; return the speed-up at equal
    statistical error."""
    model = case.model
    ref = reference(model, np.random.default_rng(SEED))
    print(f"\n{case.label}: {model!r}")
    print(
        f"  horizon T = {ref.horizon:.6g} ({JUMPS_PER_TRAJECTORY:g} jumps per "
        f"trajectory at the steady state); psi0 = steady-state eigenvector of "
        f"weight {ref.weight:.4f}"
    )
    print(
        f"  exact p_suc: steady state {ref.p_steady:.6f}, "
        f"at T from psi0 {ref.p_exact:.6f}"
    )
    warm_up(model, ref)
    ours = run_ours(model, ref, case.n_ours, SEED + 1)
    peer = run_qutip(model, ref, case.n_qutip, SEED + 2)
    se_target = REL_SE * ref.p_exact
    print_runs((ours, peer), ref, se_target)
    return print_speedup(ours, peer, se_target)


def print_runs(runs: tuple[Run, ...], ref: Reference, se_target: float) -> None:
    """One line per run: cost, estimate, its z against the exact value, sigma."""
    print(
        f"  {'engine':<6} {'n_traj':>7} {'wall s':>7} {'traj/s':>9} {'jumps/s':>10} "
        f"{'jumps/traj':>10} {'p_suc':>9} {'SE':>9} {'z':>6} {'sigma':>7} "
        f"{'t(1% SE) s':>11}"
    )
    for run in runs:
        print(
            f"  {run.engine:<6} {run.n_traj:>7} {run.seconds:>7.2f} "
            f"{run.n_traj / run.seconds:>9.4g} {run.jumps / run.seconds:>10.4g} "
            f"{run.jumps / run.n_traj:>10.2f} {run.p_suc:>9.6f} {run.se:>9.2g} "
            f"{(run.p_suc - ref.p_exact) / run.se:>6.2f} {run.sigma:>7.4f} "
            f"{run.seconds_for(se_target):>11.4g}"
        )


def print_speedup(ours: Run, peer: Run, se_target: float) -> float:
    """Print the agreement and the speed-ups of ``ours`` over ``peer``; return the
    speed-up at equal statistical error."""
    z_diff = (ours.p_suc - peer.p_suc) / math.hypot(ours.se, peer.se)
    per_traj = (peer.seconds / peer.n_traj) / (ours.seconds / ours.n_traj)
    per_jump = (ours.jumps / ours.seconds) / (peer.jumps / peer.seconds)
    speedup = peer.seconds_for(se_target) / ours.seconds_for(se_target)
    # its statistical error comes from the two variance estimates: Var(s^2) / s^4
    # ~ (kurtosis - 1) / N, with the kurtosis of QuTiP's per-trajectory values
    spread = speedup * math.sqrt(
        (peer.kurtosis - 1) * (1 / peer.n_traj + 1 / ours.n_traj)
    )
    print(f"  engines agree on p_suc: z(ours - qutip) = {z_diff:.2f}")
    print(
        f"  speed-up: per trajectory {per_traj:.1f}x, per jump {per_jump:.1f}x, "
        f"at equal statistical error ({REL_SE:.0%} relative SE) {speedup:.1f}x "
        f"+- {spread:.1f} (variance ratio qutip/ours "
        f"{(peer.sigma / ours.sigma) ** 2:.2f}; the +- is from the variance "
        f"estimates only, not from timing noise)"
    )
    return speedup


def large_run(model: OpenSystem) -> None:
    """Jumps per second of our engine alone on a large ensemble of ``model``."""
    ref = reference(model, np.random.default_rng(SEED))
    run = run_ours(model, ref, LARGE_N, SEED + 3)
    rate = run.jumps / run.seconds
    status = "met" if rate >= TARGET_JUMPS_PER_S else "MISSED"
    print(
        f"\nlarge ensemble, reset machine, ours only: {run.n_traj} trajectories x "
        f"{run.jumps / run.n_traj:.1f} jumps (T = {ref.horizon:.6g}, chunk_size "
        f"{CHUNK_SIZE}) in {run.seconds:.2f} s"
    )
    print(
        f"  {rate:.4g} jumps/s per core, {run.n_traj / run.seconds:.4g} traj/s "
        f"(target >= {TARGET_JUMPS_PER_S:.0e} jumps/s: {status}); "
        f"p_suc = {run.p_suc:.6f} +- {run.se:.1g} "
        f"(z = {(run.p_suc - ref.p_exact) / run.se:.2f})"
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
        f"OPENBLAS/OMP/MKL_NUM_THREADS = 1, one process"
    )
    opts = ", ".join(f"{k}={v!r}" for k, v in QUTIP_OPTIONS.items())
    print(f"mcsolve options: {opts}")


def fig5b_model(T_A: float, T_B: float) -> LindbladModel:
    """The Lindblad machine with the parameters of the caption of Fig. 5(b)."""
    return LindbladModel(
        qutrit(g=CAPTION["g"], eps=CAPTION["eps"]),
        T_A=T_A,
        T_B=T_B,
        Gamma_A=CAPTION["Gamma_A"],
        Gamma_B=CAPTION["Gamma_B"],
        dephasing=CAPTION["gamma"],
    )


def main() -> None:
    """Run the comparisons and the large ensemble; print the speed-ups last."""
    print_machine()
    reset = Case(
        "reset machine",
        ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01),
        n_ours=4 * CHUNK_SIZE,
        n_qutip=8000,
    )
    lindblad = Case(
        "Lindblad machine (Fig. 5b)",
        fig5b_model(T_A=10.0, T_B=0.2),
        n_ours=2 * CHUNK_SIZE,
        n_qutip=16000,
    )
    speedups = [compare(case) for case in (reset, lindblad)]
    large_run(reset.model)
    print(f"speedup reset={speedups[0]:.1f} lindblad={speedups[1]:.1f}")


if __name__ == "__main__":
    main()
