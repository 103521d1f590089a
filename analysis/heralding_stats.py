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

import math
from collections.abc import Callable, Collection, Iterator, Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.estimators import (
    ess_from_sums,
    jackknife_df,
    mean_estimate,
    measure_estimate,
)


def branch_states(runs: pd.DataFrame) -> NDArray[np.complex128]:
    """The first-attempt success branches phi_i (n, k) from the phi_* columns."""
    re = runs.filter(regex=r"^phi_re_\d+$").to_numpy()
    im = runs.filter(regex=r"^phi_im_\d+$").to_numpy()
    return re + 1j * im


def p_suc_table(runs: pd.DataFrame, exact: float) -> pd.DataFrame:
    """p_suc from the sampled outcomes and from the Born probabilities, with SEs,
    effective sample sizes and the resolved flag (``mean_estimate``)."""
    rows = []
    for name, col in (("sampled", "first_success"), ("born", "first_born")):
        x = runs[col].to_numpy(dtype=float)
        est = mean_estimate(x.sum(), (x**2).sum(), x.size)
        rows.append(
            {"quantity": "p_suc", "estimator": name, "n": x.size, "exact": exact}
            | est.row(exact)
        )
    return pd.DataFrame(rows)


def ratio_groups(
    runs: pd.DataFrame,
    estimator: str = "born",
    n_groups: int = 50,
    n_total: int | None = None,
) -> NDArray[np.complex128]:
    """Per-group sums [vec(sum w phi phi^dag), sum w, sum w^2] over blocks of machines.

    Machine ``trajectory`` belongs to block trajectory * G // n_total, so the sums of
    several batches of one run (pass the run's ``n_total``) add up to those of the
    whole run. The sum of w^2 gives the effective sample size of the weights.
    Each group's sum of w phi phi^dag is one matrix product (``_group_sums``):
    memory O(G k^2), not O(n k^2).
    """
    if estimator not in ("born", "sampled"):
        raise ValueError(f"estimator={estimator!r} must be 'born' or 'sampled'")
    col = "first_born" if estimator == "born" else "first_success"
    w = runs[col].to_numpy(dtype=float)
    phi = branch_states(runs)
    traj = runs["trajectory"].to_numpy()
    n_total = int(traj.max()) + 1 if n_total is None else n_total
    G = max(2, min(n_groups, n_total))
    label = traj * G // n_total
    order = np.argsort(label, kind="stable")
    label = label[order]
    starts = np.flatnonzero(np.r_[True, label[1:] != label[:-1]])
    ends = np.r_[starts[1:], label.size]
    out = np.zeros((G, phi.shape[1] ** 2 + 2), dtype=complex)
    for a, b in zip(starts, ends, strict=True):
        out[label[a]] = _group_sums(w[order[a:b]], phi[order[a:b]])
    return out


def _group_sums(
    w: NDArray[np.float64], phi: NDArray[np.complex128]
) -> NDArray[np.complex128]:
    """[vec(sum w phi phi^dag), sum w, sum w^2] of one group, the numerator as one
    matrix product (w phi)^T phi^*."""
    num = (w[:, None] * phi).T @ phi.conj()
    return np.r_[num.ravel(), w.sum(), (w**2).sum()]


def ratio_states(pooled: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """rho' (..., k, k) from pooled sums [vec(numerator), sum w, sum w^2]
    (..., k^2 + 2), one row or many; NaN where the weights sum to zero."""
    k = round(np.sqrt(pooled.shape[-1] - 2))
    den = pooled[..., k * k].real
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pooled[..., : k * k] / den[..., None]
    return out.reshape(*pooled.shape[:-1], k, k)


def weights_ess(groups: NDArray[np.complex128]) -> float:
    """Kish effective sample size of the weights behind rho' (``ratio_groups``)."""
    total = groups.sum(axis=0)
    return ess_from_sums(float(total[-2].real), float(total[-1].real))


def _leave_one_out_states(
    groups: NDArray[np.complex128],
) -> Iterator[NDArray[np.complex128]]:
    """rho' with each group left out in turn, one (k, k) state at a time."""
    total = groups.sum(axis=0)
    for g in groups:
        yield ratio_states(total - g)


JACKKNIFE_BLOCK = 2**20
"""Elements of rho' whose leave-one-out values are held at once (x G)."""


def _jackknife_se(replicates: NDArray) -> NDArray:
    """Delete-one-group jackknife SE of real estimates; replicates (G, ...)."""
    G = replicates.shape[0]
    spread = replicates - replicates.mean(axis=0)
    return np.sqrt((G - 1) / G * np.sum(spread**2, axis=0))


def post_selected_state(groups: NDArray[np.complex128]) -> tuple[NDArray, NDArray]:
    """rho' and its elementwise jackknife SE (se_re + 1j se_im), all elements in one
    array operation over the G leave-one-out states (by blocks of
    ``JACKKNIFE_BLOCK`` elements)."""
    if groups.shape[0] < 2:
        raise ValueError(
            f"need at least 2 groups for a jackknife, got {groups.shape[0]}"
        )
    total = groups.sum(axis=0)
    est = ratio_states(total)
    k2 = groups.shape[1] - 2
    den = (total[k2] - groups[:, k2]).real[:, None]
    se = np.empty(k2, dtype=complex)
    step = max(1, JACKKNIFE_BLOCK // groups.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        for a in range(0, k2, step):
            b = min(a + step, k2)
            loo = (total[a:b] - groups[:, a:b]) / den
            se[a:b] = _jackknife_se(loo.real) + 1j * _jackknife_se(loo.imag)
    return est, se.reshape(est.shape)


def quality_table(
    groups: NDArray[np.complex128],
    measures: Mapping[str, Callable[[NDArray], float]],
    exact_rho: NDArray[np.complex128],
    estimator: str = "born",
    ranges: Mapping[str, float] | None = None,
    clipped: Collection[str] = (),
) -> pd.DataFrame:
    """Measures of rho' with jackknife SEs, 95% CIs, exact values and z-scores.

    A measure is resolved (``measure_estimate``) when the weights' effective sample
    size reaches ``ESS_MIN`` and its jackknife SE is not below the sample's
    resolution, range * 3 / ESS: a component of rho' that the sample never saw may
    carry weight up to 3/ESS (95%, the rule of three) and shift the measure by up to
    that fraction of its range. Otherwise value is reported, SE, CI and z are NaN.
    Measures named in ``clipped`` are given in signed form (e.g. the signed
    negativity, smooth through 0) and reported as max(0, value) with a clipped CI,
    their z taken on the signed form.
    """
    ess = weights_ess(groups)
    full = ratio_states(groups.sum(axis=0))
    names = list(measures)
    all_reps = np.array(
        [[_apply(measures[n], r) for n in names] for r in _leave_one_out_states(groups)]
    ).reshape(groups.shape[0], len(names))
    rows = []
    for name, reps in zip(names, np.ascontiguousarray(all_reps.T), strict=True):
        f = measures[name]
        value = _apply(f, full)
        finite = np.isfinite(reps).all()
        se = float(_jackknife_se(reps)) if finite else math.nan
        df = jackknife_df(reps) if finite else 0.0
        est = measure_estimate(value, se, ess, (ranges or {}).get(name, 1.0), df)
        exact = f(exact_rho)
        clip = name in clipped
        rows.append(
            {"quantity": name, "estimator": estimator}
            | est.row(exact, clip_at_zero=clip)
        )
    return pd.DataFrame(rows)


def _apply(f: Callable[[NDArray], float], rho: NDArray) -> float:
    """f(rho), NaN where rho is undefined (no weight)."""
    return float(f(rho)) if np.isfinite(rho).all() else math.nan
