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
from threadpoolctl import threadpool_limits

from analysis.estimators import (
    COUNT_MIN,
    ResolvedEstimate,
    binomial_se,
    count_mean_estimate,
    mean_estimate,
)
from analysis.heralding_stats import quality_table
from analysis.waiting_times import any_success_probability
from trajectories.exact.relaxation import relaxation_time
from trajectories.heralding.measures import (
    CLIPPED_MEASURES,
    measure_ranges,
    post_selected_measures,
)
from trajectories.pipeline.config import RunConfig
from trajectories.pipeline.records import PointRecords
from trajectories.pipeline.references import PointReference
from trajectories.pipeline.steady_estimates import steady_state_keys


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
    se = binomial_se(exact, n)
    count = n * min(exact, 1 - exact)
    ok = count >= expected_min
    reason = "" if ok else f"expected count {count:.3g} < {expected_min:g}"
    return ResolvedEstimate(value, se, count, ok, reason).row(exact)


def summarize_point(point: RunConfig, sums: PointRecords) -> dict[str, Any]:
    """Estimates, SEs, exact values and z-scores of one grid point."""
    ref = PointReference.of(point)
    model, exact = ref.model, ref.first
    proto = point.protocol
    T, A, n = proto.attempt_period, proto.attempts, proto.machines
    N = point.sampling.n_traj
    row: dict[str, Any] = {"not_resolved": []}
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
    pmf, tail = ref.law
    mean_exact = ref.mean_attempts
    K = sums.k
    est = count_mean_estimate(K[K <= A].astype(float))
    _put(row, "mean_attempts", est.row(mean_exact))
    _put(row, "mean_wait", est.scaled(T).row(T * mean_exact))
    _put(row, "censored", _exact_se(float(np.mean(K > A)), tail, K.size, COUNT_MIN))
    p_bank = float(any_success_probability(pmf[0], n))
    hits = sums.bank_hits(n)
    _put(
        row,
        "bank_round_success",
        _exact_se(float(hits.mean()), p_bank, hits.size, COUNT_MIN),
    )
    steady, elements = steady_state_keys(sums.state_sums(), model, ref.rho_ss)
    for key, value in steady.items():
        if isinstance(value, dict):
            _put(row, key, value)
        else:
            row[key] = value
    row["not_resolved"] = "; ".join(row["not_resolved"])
    row.update(
        {
            "initial": point.sampling.initial,
            "burn_in": point.burn_in,
            "relaxation_time": relaxation_time(model),
            "n_traj": N,
            "n_first_success": int(sums.p["sampled"][0]),
            "machines": n,
            "attempt_period": T,
            "attempts": A,
            "seed": point.sampling.seed,
        }
    )
    if elements is not None:
        row["steady_state_elements"] = elements.to_dict("records")
    return row


def summarize(config: RunConfig, records: list[PointRecords]) -> list[dict[str, Any]]:
    """One summary row per grid point of the run (swept values as sweep.* columns),
    from the records of ``records.read_records``. Linear algebra on one thread
    (``SERIAL_BLAS``)."""
    rows = []
    with threadpool_limits(limits=SERIAL_BLAS):
        for point, sums in zip(config.points(), records, strict=True):
            swept = {f"sweep.{key}": point.value(key) for key in config.sweep}
            rows.append(swept | summarize_point(point, sums))
    return rows


SERIAL_BLAS = 1
"""BLAS threads of the summary and the report: their matrices are small (D, rho'),
threads gain little there and, on busy cores, spin (the report of a qudit d = 32
run took 99 s with two threads on a loaded 2-core machine, 34 s with one), and one
thread makes the summary bit-reproducible whatever the machine."""


SUMMARY_KEYS = {
    "p_suc": "p_suc",
    "negativity": "negativity of rho'",
    "fidelity": "fidelity of rho'",
    "chsh": "CHSH of rho'",
    "mean_attempts": "mean attempts K",
    "mean_wait": "mean wait K T",
    "steady_avg_p_suc": "stationary p_suc",
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
        if row.get("steady_state_n_elements"):
            lines.append(
                f"  sampled steady state max|z| = {row['steady_state_max_abs_z']:.2f} "
                f"over {row['steady_state_n_elements']} elements"
            )
    if any(k.startswith("sweep.") for k in rows[0]):
        lines += ["", "the sweep, one row per point:", *format_table(rows)]
    lines.append(f"run directory: {out}")
    return "\n".join(lines)


TABLE_KEYS = {
    "negativity": "negativity",
    "fidelity": "fidelity",
    "mean_attempts": "mean K",
}
"""The quantities of the sweep table after p_suc, with their column labels."""


def format_table(rows: list[dict[str, Any]]) -> list[str]:
    """The summary rows as one table: the swept keys, p_suc ± SE, its exact value
    and z, then each of ``TABLE_KEYS`` as "value ± SE (z)"; "not resolved" where
    the sample does not resolve a quantity."""
    keys = [k for k in rows[0] if k.startswith("sweep.")]
    quantities = [q for q in TABLE_KEYS if any(q in r for r in rows)]
    head = [k.removeprefix("sweep.") for k in keys] + ["p_suc ± SE", "exact", "z"]
    head += [f"{TABLE_KEYS[q]} ± SE (z)" for q in quantities]
    body = []
    for r in rows:
        cells = [str(r[k]) for k in keys]
        cells += [_with_se(r, "p_suc"), f"{r['p_suc_exact']:.6g}", _z(r, "p_suc")]
        for q in quantities:
            z = _z(r, q) if q in r else ""
            cells.append(_with_se(r, q) + (f" ({z})" if z else ""))
        body.append(cells)
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    return [
        "  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in [head, *body]
    ]


def _with_se(row: dict[str, Any], key: str) -> str:
    """ "value ± SE", "value not resolved" or "–" (no value)."""
    value = row.get(key)
    if value is None or not math.isfinite(value):
        return "–"
    if not row.get(f"{key}_resolved", True):
        return f"{value:.4g} not resolved"
    return f"{value:.4g} ± {row[key + '_se']:.2g}"


def _z(row: dict[str, Any], key: str) -> str:
    if not row.get(f"{key}_resolved", True):
        return ""
    return f"{row[key + '_z']:+.2f}"


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
