"""Born p_suc of the first attempt deep in the rare-success regime, against exact.

    python examples/rare_success.py          # the README table (~10 s)
    python examples/rare_success.py --limit  # qudit d = 4 at p_A = 0.2 p_B

The one-step machine of App. E (d = 4..8) and the qudit machine of Eqs. 9-10
(d = 2..4) at T_A = inf, T_B = 0, with p_A = g as in App. E (p_B = 1e-3, g1 = p_B/2)
and g/p_B from 1 down to 1e-8: exact p_suc (down to 1e-95), the Born estimate from
20000 machines started in the steady state and filtered once at T = 1/p_B, its SE,
the Kish effective sample size and z (or "not resolved" below 100 effective samples).
"""

from __future__ import annotations

import sys

import numpy as np

from analysis.estimators import mean_estimate
from trajectories.exact.states import herald, steady_state
from trajectories.heralding.protocol import run_heralding
from trajectories.system.machines import one_step, qudit
from trajectories.system.models import ResetModel

P_B = 1e-3
RATIOS = (1.0, 1e-2, 1e-4, 1e-6, 1e-8)
N_TRAJ = 20000


def model_of(kind: str, d: int, ratio: float, p_A: float | None) -> ResetModel:
    """The machine at g = ratio p_B, p_A = g unless given."""
    g = ratio * P_B
    machine = one_step(d, g=g, g1=P_B / 2) if kind == "one-step" else qudit(d, g=g)
    return ResetModel(
        machine, p_A=g if p_A is None else p_A, p_B=P_B, T_A="inf", T_B=0.0
    )


def table_row(
    kind: str, d: int, ratio: float, seed: int, p_A: float | None = None
) -> str:
    """One Markdown row of the table."""
    model = model_of(kind, d, ratio, p_A)
    exact = herald(steady_state(model), model.machine.filter).p_suc
    run = run_heralding(
        model,
        n_traj=N_TRAJ,
        rng=np.random.default_rng(seed),
        attempt_period=1 / P_B,
        n_attempts=1,
    )
    x = run.runs_table()["first_born"].to_numpy()
    r = mean_estimate(x.sum(), (x**2).sum(), x.size).row(exact)
    est = f"{r['value']:.4g} ± {r['se']:.2g}" if r["resolved"] else f"{r['value']:.4g}"
    z = f"{r['z']:+.2f}" if r["resolved"] else "not resolved"
    return f"| {kind} | {d} | {ratio:g} | {exact:.4g} | {est} | {r['ess']:.0f} | {z} |"


def rows() -> list[tuple[str, int, float, int]]:
    """(kind, d, g/p_B, seed) of every row, seeds fixed per row."""
    out = []
    for kind, dims in (("one-step", range(4, 9)), ("qudit", range(2, 5))):
        for d in dims:
            for i, ratio in enumerate(RATIOS):
                out.append(
                    (kind, d, ratio, 100 * d + i + (0 if kind == "qudit" else 50))
                )
    return out


HEADER = (
    "| machine | d | g/p_B | exact p_suc | Born estimate ± SE | ESS | z |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
)


if __name__ == "__main__":
    print(HEADER)
    if "--limit" in sys.argv[1:]:
        for i, ratio in enumerate(RATIOS[2:]):
            print(table_row("qudit", 4, ratio, 13 + i, p_A=0.2 * P_B), flush=True)
    else:
        for args in rows():
            print(table_row(*args), flush=True)
