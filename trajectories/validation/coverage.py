"""Coverage of the reported 95% intervals: do the error bars mean what they say?

A case is a model and a heralding protocol. ``interval_hits`` runs it once (one seed)
and returns, per reported quantity, whether the sample resolved it and whether its
95% interval (estimate ± 1.96 SE, the intervals of ``summary.json``) covers the
exact value. Over many independent seeds the fraction covered estimates the coverage,
which must be 95% for honest error bars; ``coverage_table`` adds a Clopper-Pearson
band to that fraction. The quantities are those of the run summary: p_suc (Born
weights and sampled outcomes), the measures of rho' (Eq. 5), and the mean number of
attempts K (given K <= attempts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.estimators import count_mean_estimate, mean_estimate
from analysis.heralding_stats import quality_table, ratio_groups
from analysis.waiting_times import first_success_attempts
from trajectories.exact.attempt_laws import attempts_pmf
from trajectories.heralding.measures import (
    CLIPPED_MEASURES,
    measure_ranges,
    post_selected_measures,
)
from trajectories.heralding.protocol import run_heralding
from trajectories.heralding.results import HeraldingRun
from trajectories.system.models import OpenSystem
from trajectories.validation.heralding import first_attempt_reference

QUANTITIES = (
    "p_suc",
    "p_suc_sampled",
    "negativity",
    "fidelity",
    "chsh",
    "purity",
    "mean_attempts",
)
"""The quantities whose intervals are checked."""


@dataclass(frozen=True)
class CoverageCase:
    """A configuration of the coverage study."""

    name: str
    model: OpenSystem
    attempt_period: float
    attempts: int
    n_traj: int


def estimate_rows(run: HeraldingRun) -> dict[str, dict]:
    """The summary's estimates of one run (``ResolvedEstimate.row`` dicts) against
    the exact first-attempt values."""
    exact = first_attempt_reference(run)
    runs = run.runs_table()
    out = {}
    for key, col in (("p_suc", "first_born"), ("p_suc_sampled", "first_success")):
        x = runs[col].to_numpy(dtype=float)
        out[key] = mean_estimate(x.sum(), (x**2).sum(), x.size).row(exact.p_suc)
    machine = run.model.machine
    table = quality_table(
        ratio_groups(runs),
        post_selected_measures(machine),
        exact.rho_post,
        ranges=measure_ranges(machine),
        clipped=CLIPPED_MEASURES,
    )
    out |= {r["quantity"]: r for r in table.to_dict("records")}
    A = run.n_attempts
    law = attempts_pmf(run.model, run.attempt_period, A, run.initial_dm)
    k = first_success_attempts(run.success)
    mean_exact = float(np.arange(1, A + 1) @ law.pmf / law.pmf.sum())
    out["mean_attempts"] = count_mean_estimate(k[k <= A]).row(mean_exact)
    return out


def interval_hits(case: CoverageCase, seed: int) -> list[dict]:
    """One row per quantity: case, seed, resolved, covered (NaN if unresolved), z."""
    run = run_heralding(
        case.model,
        n_traj=case.n_traj,
        rng=np.random.default_rng(seed),
        attempt_period=case.attempt_period,
        n_attempts=case.attempts,
    )
    rows = []
    for key, r in estimate_rows(run).items():
        if key not in QUANTITIES:
            continue
        covered = r["ci_low"] <= r["exact"] <= r["ci_high"] if r["resolved"] else None
        if r["resolved"] and key in CLIPPED_MEASURES:  # signed form: z decides
            covered = abs(r["z"]) <= r["crit"]
        rows.append(
            {
                "case": case.name,
                "seed": seed,
                "quantity": key,
                "resolved": bool(r["resolved"]),
                "covered": covered,
                "z": r["z"],
                "exact": r["exact"],
            }
        )
    return rows


def coverage_table(hits: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per case and quantity: seeds, resolved seeds, coverage of the resolved ones
    and its Clopper-Pearson interval."""
    rows = []
    for (case, quantity), g in hits.groupby(["case", "quantity"], sort=False):
        res = g[g["resolved"]]
        n, k = len(res), int(res["covered"].astype(bool).sum())
        row = {
            "case": case,
            "quantity": quantity,
            "seeds": len(g),
            "resolved": n,
            "exact": float(g["exact"].iloc[0]),
        }
        if n:
            ci = stats.binomtest(k, n).proportion_ci(confidence, method="exact")
            row |= {"coverage": k / n, "low": ci.low, "high": ci.high}
        rows.append(row)
    return pd.DataFrame(rows)
