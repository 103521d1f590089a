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

from analysis.estimators import (
    COUNT_MIN,
    ResolvedEstimate,
    count_mean_estimate,
    mean_estimate,
)
from analysis.heralding_stats import quality_table, ratio_groups
from analysis.waiting_times import any_success_probability, first_success_attempts
from trajectories.exact.attempt_laws import attempts_pmf
from trajectories.exact.states import herald, steady_state
from trajectories.heralding.measures import (
    CLIPPED_MEASURES,
    measure_ranges,
    post_selected_measures,
)
from trajectories.pipeline.config import RunConfig
from trajectories.pipeline.rundir import RunDirectory


def _put(row: dict, key: str, est: dict[str, Any]) -> None:
    """key, key_se, key_exact, key_z, key_ess, key_resolved from a ``row()`` of a
    ``ResolvedEstimate``; unresolved keys are listed in row["not_resolved"]."""
    row[key] = est["value"]
    for part in ("se", "ci_low", "ci_high", "exact", "z", "ess", "resolved"):
        row[f"{key}_{part}"] = est[part]
    if not est["resolved"]:
        row["not_resolved"] = [*row.get("not_resolved", []), f"{key}: {est['reason']}"]


def _exact_se(
    value: float, exact: float, n: int, expected_min: float
) -> dict[str, Any]:
    """A frequency among n trials with the binomial SE of the exact probability
    (a score test): resolved when n p and n (1 - p) reach ``expected_min``."""
    se = math.sqrt(max(exact * (1 - exact), 0.0) / n) if n else math.nan
    count = n * min(exact, 1 - exact)
    ok = count >= expected_min
    reason = "" if ok else f"expected count {count:.3g} < {expected_min:g}"
    return ResolvedEstimate(value, se, count, ok, reason).row(exact)


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
    row: dict[str, Any] = {"not_resolved": []}
    exact = herald(steady_state(model), model.machine.filter)
    for key, name in (("p_suc", "born"), ("p_suc_sampled", "sampled")):
        est = mean_estimate(sums.p[name][0], sums.p[name][1], N)
        _put(row, key, est.row(exact.p_suc))
    q = quality_table(
        sums.groups,
        post_selected_measures(model.machine),
        exact.rho_post,
        ranges=measure_ranges(model.machine),
        clipped=CLIPPED_MEASURES,
    )
    for r in q.to_dict("records"):
        _put(row, r["quantity"], r)
    pmf, tail = attempts_pmf(model, T, A)
    K = np.concatenate(sums.K)
    done = K[K <= A].astype(float)
    mean_exact = float(np.arange(1, A + 1) @ pmf / pmf.sum())
    est = count_mean_estimate(done)
    _put(row, "mean_attempts", est.row(mean_exact))
    _put(row, "mean_wait", est.scaled(T).row(T * mean_exact))
    _put(row, "censored", _exact_se(float(np.mean(K > A)), tail, K.size, COUNT_MIN))
    p_bank = float(any_success_probability(exact.p_suc, n))
    hits, n_banks = sums.banks
    _put(
        row,
        "bank_round_success",
        _exact_se(hits / n_banks, p_bank, int(n_banks), COUNT_MIN),
    )
    row["not_resolved"] = "; ".join(row["not_resolved"])
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


SUMMARY_KEYS = {
    "p_suc": "p_suc",
    "negativity": "negativity of rho'",
    "fidelity": "fidelity of rho'",
    "chsh": "CHSH of rho'",
    "mean_attempts": "mean attempts K",
    "mean_wait": "mean wait K T",
}
"""The quantities of the terminal summary, with their labels."""


def format_summary(rows: list[dict[str, Any]], out: Path) -> str:
    """A short human-readable summary of the rows."""
    lines = []
    for i, row in enumerate(rows):
        sweep = {k: v for k, v in row.items() if k.startswith("sweep.")}
        head = f"point {i}: " + ", ".join(f"{k[6:]}={v}" for k, v in sweep.items())
        lines.append(
            head
            if sweep
            else f"{row['n_traj']} machines, "
            f"{row['attempts']} attempts every T={row['attempt_period']:g}"
        )
        for key, label in SUMMARY_KEYS.items():
            if key in row:
                lines.append(f"  {label:<20} {format_estimate(row, key)}")
    lines.append(f"run directory: {out}")
    return "\n".join(lines)


def format_estimate(row: dict[str, Any], key: str) -> str:
    """ "value ± se   exact x   z=..." or "value (not resolved)   exact x"."""
    exact = f"exact {row[key + '_exact']:.6g}"
    if not row.get(f"{key}_resolved", True):
        value = row[key]
        shown = f"{value:.6g}" if value is not None and math.isfinite(value) else "–"
        return f"{shown} (not resolved)   {exact}"
    return (
        f"{row[key]:.6g} ± {row[key + '_se']:.2g}   {exact}   z={row[key + '_z']:+.2f}"
    )


def resolution_notes(rows: list[dict[str, Any]]) -> list[str]:
    """One line per grid point with quantities the sample does not resolve."""
    return [
        f"note: point {i}: not resolved: {row['not_resolved']}"
        if len(rows) > 1
        else f"note: not resolved: {row['not_resolved']}"
        for i, row in enumerate(rows)
        if row.get("not_resolved")
    ]
