"""The attempt period that maximises the rate of delivered pairs at a fidelity floor.

For a heralded source, attempting often wastes little time but catches the machine
before it has relaxed back after a failure; attempting rarely delivers better pairs
but fewer of them. ``protocol_exact.optimal_attempt_period`` maximises the exact
long-run pair rate 1 / (T E[K']) subject to the long-run fidelity of the delivered
pairs to the target, and this script confirms the optimum by simulation.

    python examples/optimal_attempt_period.py
"""

from __future__ import annotations

import numpy as np

from analysis.measures import fidelity
from trajectories.exact.delivered_pairs import delivered_state, pair_rate
from trajectories.exact.optimal_period import optimal_attempt_period
from trajectories.heralding.protocol import run_heralding
from trajectories.system.machines import qutrit
from trajectories.system.models import ResetModel
from trajectories.validation import heralding as validate

MODEL = ResetModel(qutrit(g=0.02), p_A=0.01, p_B=0.01)  # relaxation time 100
FLOOR = 0.97


def exact_point(T: float) -> tuple[float, float]:
    """Exact pair rate and long-run delivered fidelity at attempt period T."""
    rho = delivered_state(MODEL, T, None, "thermal")
    return pair_rate(MODEL, T, "thermal"), fidelity(rho, MODEL.machine.target)


def main() -> None:
    """Print the exact rate/fidelity curve and the simulated optimum."""
    opt = optimal_attempt_period(MODEL, FLOOR)
    print(
        f"{MODEL!r}\nfidelity floor {FLOOR}: T* = {opt.attempt_period:.4g}, "
        f"rate = {opt.rate:.5g} pairs per machine per unit time, fidelity "
        f"{opt.fidelity:.5f} (constraint active: {opt.constraint_active})\n"
    )
    print(
        f"{'T':>9} {'rate exact':>11} {'fidelity':>9} {'rate sim':>18} "
        f"{'fidelity sim':>18}"
    )
    for factor in (0.25, 0.5, 1.0, 2.0, 4.0):
        T = opt.attempt_period * factor
        rate, fid = exact_point(T)
        window = int(12 / (T * rate))
        run = run_heralding(
            MODEL,
            n_traj=800,
            rng=np.random.default_rng(1),
            attempt_period=T,
            n_attempts=2 * window + 20,
        )
        r, f = (
            validate.pair_rate(run),
            validate.delivered_fidelity(run),
        )
        mark = "  <- T*" if factor == 1.0 else ""
        print(
            f"{T:9.4g} {rate:11.5g} {fid:9.5f} {r['value']:10.5g} ± {r['se']:.1g} "
            f"{f['value']:10.5f} ± {f['se']:.1g}{mark}"
        )


if __name__ == "__main__":
    main()
