"""A heralding run against its exact counterparts: estimates, exact values, z.

Every function takes a finished ``HeraldingRun`` and returns its sample estimate next
to the exact value from the exact layer: the filter statistics at the first attempt
(e^{LT} rho_0 heralded, Eq. 5), the laws of K, K' and R (``exact.attempt_laws``), the
round success of a bank, the long-run pair rate and delivered fidelity.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.estimators import binomial_se, z_score
from analysis.heralding_stats import p_suc_table, quality_table, ratio_groups
from analysis.measures import fidelity
from analysis.waiting_times import (
    any_success_probability,
    chi_square_gof,
    pmf_quantile,
    quantile_ci,
    sample_moments,
)
from trajectories.exact import delivered_pairs as exact_protocol
from trajectories.exact.attempt_chain import AttemptsLaw
from trajectories.exact.attempt_laws import (
    attempts_pmf,
    bank_first_success_pmf,
    geometric_pmf,
    round_success_probability,
    success_probability,
)
from trajectories.exact.delivered_pairs import delivered_state
from trajectories.exact.starts import restart_state
from trajectories.exact.states import Herald, evolve, herald
from trajectories.heralding.measures import CLIPPED_MEASURES, measure_ranges
from trajectories.heralding.results import HeraldingRun

WHICH = ("first", "renewal", "bank")
"""The attempt counts: K from rho_0, K' between pairs, R of a bank."""


def first_attempt_reference(run: HeraldingRun) -> Herald:
    """The exact filter statistics at the first attempt, on e^{LT} rho_0."""
    rho = evolve(run.model, run.initial_dm, [run.attempt_period])[0]
    return herald(rho, run.model.machine.filter)


def p_suc(run: HeraldingRun) -> pd.DataFrame:
    """p_suc from the first attempts, sampled and Born, with SEs and z-scores."""
    return p_suc_table(run.runs_table(), first_attempt_reference(run).p_suc)


def quality(run: HeraldingRun, estimator: str = "born", n_groups: int = 50):
    """Measures of rho' with jackknife SEs, 95% CIs, exact values and z-scores."""
    return quality_table(
        ratio_groups(run.runs_table(), estimator, n_groups),
        run.measures(),
        first_attempt_reference(run).rho_post,
        estimator,
        ranges=measure_ranges(run.model.machine),
        clipped=CLIPPED_MEASURES,
    )


def attempts_law(
    run: HeraldingRun, which: str = "first"
) -> tuple[np.ndarray, AttemptsLaw]:
    """Samples of K (``"first"``, from rho_0), K' (``"renewal"``, from the restart
    state) or R (``"bank"``) with the exact law they follow."""
    T, A, model = run.attempt_period, run.n_attempts, run.model
    if which == "first":
        return run.first_success_attempts(), attempts_pmf(model, T, A, run.initial_dm)
    if which == "renewal":
        rho_r = restart_state(model, run.restart)
        law = attempts_pmf(model, T, run.renewal_window, rho_r)
        return run.attempts_between_successes(), law
    if which == "bank":
        law = bank_first_success_pmf(model, T, run.n_machines, A, run.initial_dm)
        return run.bank_first_rounds(), law
    raise ValueError(f"which={which!r} must be one of {WHICH}")


def goodness_of_fit(
    run: HeraldingRun,
    which: str = "first",
    geometric: bool = False,
    min_expected: float = 5.0,
):
    """Chi-square of the sampled K (or K', R) against the exact law, or against the
    geometric law with parameter p_suc (``geometric=True``), over bins of expected
    count >= ``min_expected`` (see ``chi_square_gof``)."""
    k, law = attempts_law(run, which)
    if geometric:
        p = success_probability(run.model)
        if which == "bank":
            p = float(any_success_probability(p, run.n_machines))
        law = geometric_pmf(p, law.pmf.size)
    return chi_square_gof(k, law.pmf, law.tail, min_expected=min_expected)


def waiting_times(
    run: HeraldingRun, quantiles: tuple[float, ...] = (0.5, 0.9)
) -> pd.DataFrame:
    """Attempts until success (K from rho_0; K' between pairs; R of a bank) and waits
    W = K T: mean, std and quantiles with errors or 95% CIs, next to the exact values
    (conditioned on K <= attempts, since longer waits are censored)."""
    rows = []
    for which in WHICH:
        k, law = attempts_law(run, which)
        done = k[k <= law.pmf.size]
        if done.size < 2:
            continue
        base = {
            "variable": which,
            "n": int(k.size),
            "censored": float(np.mean(k > run.n_attempts)),
            "censored_exact": law.tail,
        }
        rows += [base | r for r in _waiting_rows(done, law, quantiles)]
    table = pd.DataFrame(rows)
    for col in ("value", "se", "exact", "ci_low", "ci_high"):
        if col in table:
            table[f"wait_{col}"] = table[col] * run.attempt_period
    return table


def _waiting_rows(
    done: np.ndarray, law: AttemptsLaw, quantiles: tuple[float, ...]
) -> list[dict]:
    """Mean, std (with SEs and z) and quantiles (with CIs) of uncensored counts."""
    kk = np.arange(1, law.pmf.size + 1)
    cond = law.pmf / law.pmf.sum()
    mean = float(kk @ cond)
    std = math.sqrt(float(kk**2 @ cond) - mean**2)
    m = sample_moments(done)
    rows = [
        {"statistic": name, "value": v, "se": se, "exact": e, "z": z_score(v, se, e)}
        for name, v, se, e in (
            ("mean", m.mean, m.mean_se, mean),
            ("std", m.std, m.std_se, std),
        )
    ]
    for q in quantiles:
        est = quantile_ci(done, q)
        rows.append(
            {
                "statistic": f"q{q:g}",
                "value": est.estimate,
                "ci_low": est.low,
                "ci_high": est.high,
                "exact": pmf_quantile(cond, q),
            }
        )
    return rows


def round_success(run: HeraldingRun) -> dict[str, float]:
    """P(at least one of the n machines of a bank succeeds in round 1), sampled
    (binomial SE of the exact value) and exact; 1 - (1 - p_suc)^n from the steady
    state."""
    hit = run.success[:, 0].reshape(-1, run.n_machines).any(axis=1)
    exact = round_success_probability(
        run.model, run.attempt_period, run.n_machines, run.initial_dm
    )
    value = float(hit.mean())
    se = binomial_se(exact, hit.size)
    return {
        "value": value,
        "se": se,
        "exact": exact,
        "n_banks": int(hit.size),
        "z": z_score(value, se, exact),
    }


def pair_rate(run: HeraldingRun) -> dict[str, float]:
    """Delivered pairs per machine per unit time in the long run, 1 / (T E[K']),
    from the cycles after the first pairs, against the exact value (needs a run
    long enough that no such cycle is censored)."""
    k = run.attempts_between_successes()
    m = sample_moments(k, censored_at=run.renewal_window + 1)
    T = run.attempt_period
    value = 1 / (T * m.mean)
    se = m.mean_se / (T * m.mean**2)
    exact = exact_protocol.pair_rate(run.model, T, run.restart)
    return {"value": value, "se": se, "exact": exact, "z": z_score(value, se, exact)}


def delivered_fidelity(run: HeraldingRun) -> dict[str, float]:
    """Long-run fidelity of the delivered pairs (``HeraldingRun.renewal_fidelities``)
    against the exact long-run delivered state."""
    f = run.renewal_fidelities()
    state = delivered_state(run.model, run.attempt_period, None, run.restart)
    exact = fidelity(state, run.model.machine.target)
    value, se = float(f.mean()), float(f.std(ddof=1) / math.sqrt(f.size))
    return {
        "value": value,
        "se": se,
        "exact": exact,
        "n": int(f.size),
        "z": z_score(value, se, exact),
    }


def quality_by_attempt(run: HeraldingRun, k_max: int = 10) -> pd.DataFrame:
    """Mean fidelity of the pairs delivered at their k-th attempt since the last
    restart (k = 1..k_max; the first cycle from rho_0 is left out), with SEs and the
    exact fidelity of the state delivered at attempt k from the restart state."""
    table = run.fidelity_by_attempt(k_max)
    rho_r = restart_state(run.model, run.restart)
    T, target = run.attempt_period, run.model.machine.target
    table["exact"] = [
        fidelity(delivered_state(run.model, T, k, run.restart, rho_r), target)
        for k in table["k"]
    ]
    return table
