"""Summaries of a run directory: one row of estimates per grid point.

Every estimate comes with its standard error, the exact value it is validated against,
and the z-score. Keys (at least): p_suc, p_suc_se, p_suc_exact, negativity,
negativity_se, negativity_exact, fidelity, fidelity_se, fidelity_exact, mean_attempts,
mean_attempts_se, mean_attempts_exact, mean_wait, mean_wait_se, n_traj, seed.

mean_attempts is E[K | K <= attempts], K the attempt of a machine's first success
(machines without a success within the run are censored; ``censored`` gives their
fraction next to the exact P(K > attempts)).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from analysis.estimators import z_score
from analysis.heralding_stats import (
    p_suc_table,
    quality_table,
    ratio_groups,
)
from analysis.measures import chsh_max, fidelity, negativity, purity
from analysis.waiting_times import first_success_attempts
from trajectories.config import RunConfig
from trajectories.exact import herald, steady_state
from trajectories.protocol_exact import attempts_pmf
from trajectories.rundir import RunDirectory


def _measures(model) -> dict:
    machine = model.machine
    dims = machine.filter.kept_dims
    out = {"negativity": lambda r: negativity(r, dims), "purity": purity}
    if machine.target is not None:
        out["fidelity"] = lambda r: fidelity(r, machine.target)
    if dims == (2, 2):
        out["chsh"] = chsh_max
    return out


def _put(row: dict, key: str, value: float, se: float, exact: float) -> None:
    row[key], row[f"{key}_se"], row[f"{key}_exact"] = value, se, exact
    row[f"{key}_z"] = z_score(value, se, exact)


def summarize_point(point: RunConfig, attempts, runs) -> dict[str, Any]:
    """Estimates, SEs, exact values and z-scores of one grid point."""
    model = point.build_model()
    proto = point.protocol
    T, A, n = proto["attempt_period"], proto["attempts"], proto["machines"]
    row: dict[str, Any] = {}
    exact = herald(steady_state(model), model.machine.filter)
    p = p_suc_table(runs, exact.p_suc).set_index("estimator")
    _put(row, "p_suc", p.loc["born", "value"], p.loc["born", "se"], exact.p_suc)
    _put(
        row,
        "p_suc_sampled",
        p.loc["sampled", "value"],
        p.loc["sampled", "se"],
        exact.p_suc,
    )
    q = quality_table(ratio_groups(runs), _measures(model), exact.rho_post)
    for _, r in q.iterrows():
        _put(row, r["quantity"], r["value"], r["se"], r["exact"])
    pmf, tail = attempts_pmf(model, T, A)
    flags = attempts.pivot(index="trajectory", columns="attempt", values="success")
    K = first_success_attempts(flags.to_numpy(dtype=bool))
    done = K[K <= A].astype(float)
    k = np.arange(1, A + 1)
    mean_exact = float(np.sum(k * pmf) / np.sum(pmf))
    se = float(done.std(ddof=1) / math.sqrt(done.size)) if done.size > 1 else math.nan
    _put(
        row,
        "mean_attempts",
        float(done.mean()) if done.size else math.nan,
        se,
        mean_exact,
    )
    _put(row, "mean_wait", T * row["mean_attempts"], T * se, T * mean_exact)
    censored = float(np.mean(K > A))
    _put(row, "censored", censored, math.sqrt(max(tail * (1 - tail), 0) / K.size), tail)
    first = attempts[attempts["attempt"] == 1]
    banks = first.groupby("bank")["success"].any().to_numpy(dtype=float)
    p_bank = 1 - (1 - exact.p_suc) ** n
    _put(
        row,
        "bank_round_success",
        float(banks.mean()),
        math.sqrt(p_bank * (1 - p_bank) / banks.size),
        p_bank,
    )
    row.update(
        {
            "n_traj": len(runs),
            "n_first_success": int(runs["first_success"].sum()),
            "machines": n,
            "attempt_period": T,
            "attempts": A,
            "seed": point.sampling["seed"],
        }
    )
    return row


def summarize(config: RunConfig, rundir: RunDirectory) -> list[dict[str, Any]]:
    """One summary row per grid point of the run (swept values as sweep.* columns)."""
    rows = []
    for p, point in enumerate(config.points()):
        swept = {
            f"sweep.{key}": getattr(point, key.split(".")[0])[key.split(".")[1]]
            for key in config.sweep
        }
        row = summarize_point(point, rundir.read("attempts", p), rundir.read("runs", p))
        rows.append(swept | row)
    return rows


def format_summary(rows: list[dict[str, Any]], out: Path) -> str:
    """A short human-readable summary of the rows."""
    lines = []
    keys = [
        ("p_suc", "p_suc"),
        ("negativity", "negativity of rho'"),
        ("fidelity", "fidelity of rho'"),
        ("chsh", "CHSH of rho'"),
        ("mean_attempts", "mean attempts K"),
        ("mean_wait", "mean wait K T"),
    ]
    for i, row in enumerate(rows):
        sweep = {k: v for k, v in row.items() if k.startswith("sweep.")}
        head = f"point {i}: " + ", ".join(f"{k[6:]}={v}" for k, v in sweep.items())
        lines.append(
            head
            if sweep
            else f"{row['n_traj']} machines, "
            f"{row['attempts']} attempts every T={row['attempt_period']:g}"
        )
        if row["n_first_success"] < 100:
            lines.append(
                f"  note: only {row['n_first_success']} first-attempt "
                "successes; the errors of the rho' measures are unreliable"
            )
        for key, label in keys:
            if key in row:
                lines.append(
                    f"  {label:<20} {row[key]:.6g} ± {row[key + '_se']:.2g}"
                    f"   exact {row[key + '_exact']:.6g}   "
                    f"z={row[key + '_z']:+.2f}"
                )
    lines.append(f"run directory: {out}")
    return "\n".join(lines)
