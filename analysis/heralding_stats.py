"""Heralding estimates from tidy tables (pure functions of DataFrames).

``runs`` has one row per machine: ``trajectory``, ``first_born`` (Born probability of
success at the first attempt), ``first_success`` (the sampled outcome), and the
normalised success branch of the first attempt as columns ``phi_re_i``, ``phi_im_i``.
``attempts`` has one row per attempt (see ``HeraldingRun.attempts_table``).

rho' (Eq. 5) is a ratio estimator sum_i w_i phi_i phi_i^dag / sum_i w_i, with Born
weights w_i = first_born (lower variance) or the sampled successes; its measures get
delete-one-group jackknife standard errors over blocks of machines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.estimators import grouped_jackknife, z_score

Z_CRIT = 1.959963984540054
"""Two-sided 95% normal quantile for confidence intervals."""


def branch_states(runs: pd.DataFrame) -> NDArray[np.complex128]:
    """The first-attempt success branches phi_i (n, k) from the phi_* columns."""
    re = runs.filter(regex=r"^phi_re_\d+$").to_numpy()
    im = runs.filter(regex=r"^phi_im_\d+$").to_numpy()
    return re + 1j * im


def p_suc_table(runs: pd.DataFrame, exact: float) -> pd.DataFrame:
    """p_suc from the sampled outcomes and from the Born probabilities, with SEs."""
    n = len(runs)
    rows = []
    for name, col in (("sampled", "first_success"), ("born", "first_born")):
        x = runs[col].to_numpy(dtype=float)
        value, se = float(x.mean()), float(x.std(ddof=1) / np.sqrt(n))
        rows.append(
            {
                "quantity": "p_suc",
                "estimator": name,
                "value": value,
                "se": se,
                "n": n,
                "exact": exact,
                "z": z_score(value, se, exact),
            }
        )
    return pd.DataFrame(rows)


def ratio_groups(
    runs: pd.DataFrame,
    estimator: str = "born",
    n_groups: int = 50,
    n_total: int | None = None,
) -> NDArray[np.complex128]:
    """Per-group sums of [vec(sum w phi phi^dag), sum w] over blocks of machines.

    Machine ``trajectory`` belongs to block trajectory * G // n_total, so the sums of
    several batches of one run (pass the run's ``n_total``) add up to those of the
    whole run.
    """
    if estimator not in ("born", "sampled"):
        raise ValueError(f"estimator={estimator!r} must be 'born' or 'sampled'")
    col = "first_born" if estimator == "born" else "first_success"
    w = runs[col].to_numpy(dtype=float)
    phi = branch_states(runs)
    num = w[:, None, None] * phi[:, :, None] * phi[:, None, :].conj()
    rows = np.concatenate([num.reshape(len(runs), -1), w[:, None]], axis=1)
    traj = runs["trajectory"].to_numpy()
    n_total = int(traj.max()) + 1 if n_total is None else n_total
    G = max(2, min(n_groups, n_total))
    label = traj * G // n_total
    order = np.argsort(label, kind="stable")
    label = label[order]
    starts = np.flatnonzero(np.r_[True, label[1:] != label[:-1]])
    out = np.zeros((G, rows.shape[1]), dtype=complex)
    out[label[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


def ratio_state(pooled: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """rho' from pooled sums [vec(numerator), denominator]."""
    k = round(np.sqrt(pooled.size - 1))
    return pooled[:-1].reshape(k, k) / pooled[-1].real


def post_selected_state(groups: NDArray[np.complex128]) -> tuple[NDArray, NDArray]:
    """rho' and its elementwise jackknife SE (se_re + 1j se_im)."""
    k = round(np.sqrt(groups.shape[1] - 1))
    est, se = np.zeros((k, k), complex), np.zeros((k, k), complex)
    for i in range(k):
        for j in range(k):
            for part, unit in (("real", 1.0), ("imag", 1j)):
                v, s = grouped_jackknife(
                    lambda p, i=i, j=j, part=part: getattr(ratio_state(p)[i, j], part),
                    groups,
                )
                est[i, j] += unit * v
                se[i, j] += unit * s
    return est, se


def quality_table(
    groups: NDArray[np.complex128],
    measures: Mapping[str, Callable[[NDArray], float]],
    exact_rho: NDArray[np.complex128],
    estimator: str = "born",
) -> pd.DataFrame:
    """Measures of rho' with jackknife SEs, 95% CIs, exact values and z-scores."""
    rows = []
    for name, f in measures.items():
        value, se = grouped_jackknife(lambda p, f=f: f(ratio_state(p)), groups)
        exact = f(exact_rho)
        rows.append(
            {
                "quantity": name,
                "estimator": estimator,
                "value": value,
                "se": se,
                "ci_low": value - Z_CRIT * se,
                "ci_high": value + Z_CRIT * se,
                "exact": exact,
                "z": z_score(value, se, exact),
            }
        )
    return pd.DataFrame(rows)
