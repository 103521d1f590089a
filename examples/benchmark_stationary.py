"""Benchmark: stationary p_suc from trajectories, time averages against ensemble
samples, ours against QuTiP 5 ``mcsolve(method="diag")``, one thread each.

The stationary p_suc = Tr[(Pi_A x Pi_B) rho_ss] (Eq. 5) is estimated from
trajectories started in the ground state |0, 0>, after a burn-in b of ten relaxation
times (1/gap, ``exact.relaxation.relaxation_time``), four ways:

* ``ours, time average``: each trajectory's closed-form time average of p_suc(t) over
  [b, b + W] (``simulate(..., burn_in=b, n_windows=1, average_end=b + W)``), W = ten
  relaxation times; SE from the spread between trajectories;
* ``ours, ensemble``: p_suc(b) of each trajectory (one sample per trajectory);
* ``qutip, time average``: ``mcsolve`` expectation values on a dense tlist (20 points
  per relaxation time), each trajectory averaged over [b, b + W] by the trapezoid rule;
* ``qutip, ensemble``: ``mcsolve`` expectation values at b.

Every estimate is checked against the exact value (``exact.steady_state``); the cost
is CPU time (``time.process_time``, BLAS on one thread), contenders interleaved in
``REPEATS`` rounds. The table gives the CPU time for a 1% relative SE, extrapolated
as (time per trajectory) x (sigma / (0.01 p_suc))^2, median [min, max] over the
rounds, per method, and the speed-ups over QuTiP's time average.

    python examples/benchmark_stationary.py        # about 3 minutes on one core
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import numpy as np
import qutip

from trajectories.exact.relaxation import relaxation_time
from trajectories.exact.states import herald, steady_state
from trajectories.pipeline.config import load_config
from trajectories.simulation import simulate
from trajectories.system.models import OpenSystem

SEED = 7
REPEATS = 3
BURN_IN = 10.0
"""Burn-in in relaxation times."""
WINDOW = 10.0
"""Time-average window in relaxation times."""
POINTS_PER_RELAXATION_TIME = 20
REL_SE = 0.01


@dataclass(frozen=True)
class Estimate:
    """One timed estimate."""

    n_traj: int
    seconds: float
    value: float
    se: float

    def seconds_for(self, target: float) -> float:
        """CPU time for an SE of ``target`` (SE ~ 1 / sqrt(N))."""
        return self.seconds * (self.se / target) ** 2


def ours(
    model: OpenSystem, b: float, w: float, n: int, seed: int, average: bool
) -> Estimate:
    """``simulate`` from |0, 0>: the time average over [b, b + w] or p_suc(b)."""
    start = time.process_time()
    rng = np.random.default_rng(seed)
    if average:
        ens = simulate(
            model,
            initial="ground",
            n_traj=n,
            rng=rng,
            t_max=b + w,
            burn_in=b,
            n_windows=1,
            average_end=b + w,
        )
        est = ens.time_average("p_suc")
        value, se = est.value, est.se
    else:
        ens = simulate(
            model, initial="ground", n_traj=n, rng=rng, t_max=b, sample_times=[b]
        )
        mean, ses = ens.observable("p_suc")
        value, se = float(mean[-1]), float(ses[-1])
    return Estimate(n, time.process_time() - start, float(value), float(se))


def peer(
    model: OpenSystem, b: float, w: float, n: int, seed: int, average: bool
) -> Estimate:
    """``mcsolve(method="diag")`` from |0, 0>: the trapezoid average over [b, b + w]
    of dense expectation values, or the value at b."""
    dims = list(model.machine.dims)
    start = time.process_time()
    H, c_ops = model.to_qutip(interaction_picture=True)
    P = qutip.Qobj(model.machine.filter.success_projector(), dims=[dims, dims])
    ket = qutip.basis(dims, [0] * len(dims))
    tau = (b + w) / (BURN_IN + WINDOW)
    if average:
        step = tau / POINTS_PER_RELAXATION_TIME
        tlist = np.r_[0.0, np.arange(b, b + w + step / 2, step)]
    else:
        tlist = np.array([0.0, b])
    result = qutip.mcsolve(
        H,
        ket,
        tlist,
        c_ops,
        e_ops=[P],
        ntraj=n,
        seeds=seed,
        options={
            "method": "diag",
            "map": "serial",
            "progress_bar": False,
            "keep_runs_results": True,
            "improved_sampling": False,
            "store_states": False,
        },
    )
    values = np.real(np.asarray(result.runs_expect[0]))
    per_traj = (
        np.trapezoid(values[:, 1:], tlist[1:], axis=1) / w if average else values[:, -1]
    )
    seconds = time.process_time() - start
    se = float(per_traj.std(ddof=1) / math.sqrt(n))
    return Estimate(n, seconds, float(per_traj.mean()), se)


Method = Callable[[int], Estimate]


def compare(label: str, model: OpenSystem, n: dict[str, int]) -> None:
    """Every method on ``model``, interleaved; print the table."""
    tau = relaxation_time(model)
    b, w = BURN_IN * tau, WINDOW * tau
    exact = herald(steady_state(model), model.machine.filter).p_suc
    methods: dict[str, Method] = {
        "ours, time average": lambda s: ours(model, b, w, n["ours"], s, True),
        "ours, ensemble": lambda s: ours(model, b, w, n["ours"], s, False),
        "qutip, time average": lambda s: peer(model, b, w, n["qutip"], s, True),
        "qutip, ensemble": lambda s: peer(model, b, w, n["qutip"], s, False),
    }
    for method in methods.values():  # warm-up
        method(SEED)
    runs: dict[str, list[Estimate]] = {m: [] for m in methods}
    for r in range(REPEATS):
        names = list(methods)
        for name in names[r % 4 :] + names[: r % 4]:
            runs[name].append(methods[name](SEED + 10 * r + names.index(name)))
    target = REL_SE * exact
    print(
        f"\n{label}: exact stationary p_suc {exact:.6g}; 1/gap = {tau:.6g}, "
        f"burn-in {b:.6g}, window {w:.6g}"
    )
    print(
        f"  {'method':<20} {'n_traj':>7} {'max|z|':>6} "
        f"{'CPU s for 1% SE':>28} {'speed-up':>9}"
    )
    ref = statistics.median(e.seconds_for(target) for e in runs["qutip, time average"])
    for name, est in runs.items():
        cost = [e.seconds_for(target) for e in est]
        z = max(abs(e.value - exact) / e.se for e in est)
        print(
            f"  {name:<20} {est[0].n_traj:>7} {z:>6.2f} "
            f"{statistics.median(cost):>10.4g} [{min(cost):.4g}, {max(cost):.4g}]"
            f" {ref / statistics.median(cost):>8.1f}x"
        )


def main() -> None:
    """The default machine (reset) and the lindblad-fig5b preset."""
    print(
        f"qutip {qutip.__version__}; CPU time, one thread, {REPEATS} interleaved "
        "rounds; speed-up = QuTiP time average / method, at equal error"
    )
    compare(
        "reset machine (default preset)",
        load_config(None).build_model(),
        {"ours": 4096, "qutip": 300},
    )
    compare(
        "Lindblad machine (lindblad-fig5b preset)",
        load_config("lindblad-fig5b").build_model(),
        {"ours": 2048, "qutip": 200},
    )


if __name__ == "__main__":
    main()
