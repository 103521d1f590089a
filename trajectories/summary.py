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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.estimators import moments_mean_se, z_score
from analysis.heralding_stats import quality_table, ratio_groups
from analysis.waiting_times import any_success_probability, first_success_attempts
from trajectories.config import RunConfig
from trajectories.exact import herald, steady_state
from trajectories.heralding_result import post_selected_measures
from trajectories.protocol_exact import attempts_pmf
from trajectories.rundir import RunDirectory


def _measures(model) -> dict:
    """The measures reported for rho' (those of the heralding results)."""
    return post_selected_measures(model.machine)


def _put(row: dict, key: str, value: float, se: float, exact: float) -> None:
    row[key], row[f"{key}_se"], row[f"{key}_exact"] = value, se, exact
    row[f"{key}_z"] = z_score(value, se, exact)


class _PointSums:
    """Running sums over the batches of one grid point (memory: one batch)."""

    def __init__(self, n_total: int, attempts: int) -> None:
        self.n_total, self.attempts = n_total, attempts
        self.p = {"born": np.zeros(2), "sampled": np.zeros(2)}
        self.groups: NDArray | None = None
        self.K: list[NDArray] = []
        self.banks = np.zeros(2)

    def add(self, attempts: pd.DataFrame, runs: pd.DataFrame) -> None:
        for name, col in (("born", "first_born"), ("sampled", "first_success")):
            x = runs[col].to_numpy(dtype=float)
            self.p[name] += (x.sum(), (x**2).sum())
        g = ratio_groups(runs, n_total=self.n_total)
        self.groups = g if self.groups is None else self.groups + g
        flags = attempts.pivot(index="trajectory", columns="attempt", values="success")
        self.K.append(
            first_success_attempts(flags.to_numpy(dtype=bool)).astype(np.int32)
        )
        first = attempts[attempts["attempt"] == 1]
        hit = first.groupby("bank")["success"].any().to_numpy(dtype=float)
        self.banks += (hit.sum(), hit.size)


def summarize_point(
    point: RunConfig, batches: Iterable[tuple[pd.DataFrame, pd.DataFrame]]
) -> dict[str, Any]:
    """Estimates, SEs, exact values and z-scores of one grid point, from its batches
    of (attempts, runs) records read one at a time."""
    model = point.build_model()
    proto = point.protocol
    T, A, n = proto["attempt_period"], proto["attempts"], proto["machines"]
    N = point.sampling["n_traj"]
    sums = _PointSums(N, A)
    for attempts, runs in batches:
        sums.add(attempts, runs)
    row: dict[str, Any] = {}
    exact = herald(steady_state(model), model.machine.filter)
    for key, name in (("p_suc", "born"), ("p_suc_sampled", "sampled")):
        mean, se = moments_mean_se(sums.p[name][0], sums.p[name][1], N)
        _put(row, key, float(mean), float(se), exact.p_suc)
    q = quality_table(sums.groups, _measures(model), exact.rho_post)
    for _, r in q.iterrows():
        _put(row, r["quantity"], r["value"], r["se"], r["exact"])
    pmf, tail = attempts_pmf(model, T, A)
    K = np.concatenate(sums.K)
    done = K[K <= A].astype(float)
    mean_exact = float(np.arange(1, A + 1) @ pmf / pmf.sum())
    se = float(done.std(ddof=1) / math.sqrt(done.size)) if done.size > 1 else math.nan
    mean = float(done.mean()) if done.size else math.nan
    _put(row, "mean_attempts", mean, se, mean_exact)
    _put(row, "mean_wait", T * mean, T * se, T * mean_exact)
    _put(
        row,
        "censored",
        float(np.mean(K > A)),
        math.sqrt(max(tail * (1 - tail), 0) / K.size),
        tail,
    )
    p_bank = float(any_success_probability(exact.p_suc, n))
    hits, n_banks = sums.banks
    _put(
        row,
        "bank_round_success",
        hits / n_banks,
        math.sqrt(p_bank * (1 - p_bank) / n_banks),
        p_bank,
    )
    row.update(
        {
            "n_traj": N,
            "n_first_success": int(sums.p["sampled"][0]),
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
        rows.append(swept | summarize_point(point, rundir.iter_batches(p)))
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
