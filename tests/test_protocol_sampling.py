"""Sampled protocol statistics against the exact laws of ``protocol_exact``.

The machine relaxes in ~100 time units (Liouvillian gap 0.01) and p_suc = 0.139:
T = 1000 is ten relaxation times (the law of K is then geometric to 5e-6 in total
variation), T = 5 is a twentieth of one (total variation 0.79 from the geometric law).
"""

from __future__ import annotations

import numpy as np
import pytest

from trajectories.exact.attempt_laws import geometric_deviation
from trajectories.heralding.protocol import run_heralding
from trajectories.system.machines import qutrit
from trajectories.system.models import ResetModel
from trajectories.validation import heralding as validate

P_MIN = 1e-3
Z_MAX = 4.5
MODEL = ResetModel(qutrit(g=0.02), p_A=0.01, p_B=0.01)


def _run(
    T: float, n_attempts: int, n_traj: int = 2000, n_machines: int = 1, seed: int = 3
):
    return run_heralding(
        MODEL,
        n_traj=n_traj,
        rng=np.random.default_rng(seed),
        attempt_period=T,
        n_attempts=n_attempts,
        n_machines=n_machines,
    )


@pytest.fixture(scope="module")
def long_run():
    return _run(1000.0, 40)


@pytest.fixture(scope="module")
def short_run():
    return _run(5.0, 60, n_traj=4000)


def test_regimes_are_what_the_module_says() -> None:
    assert geometric_deviation(MODEL, 1000.0, 40) < 1e-5
    assert geometric_deviation(MODEL, 5.0, 60) > 0.7


@pytest.mark.parametrize("which", ["first", "renewal"])
def test_long_period_attempts_follow_the_exact_law(long_run, which: str) -> None:
    fit = validate.goodness_of_fit(long_run, which)
    assert fit.p_value > P_MIN, fit
    assert validate.goodness_of_fit(long_run, which, geometric=True).p_value > P_MIN


def test_short_period_attempts_follow_the_exact_law_not_the_geometric(short_run):
    assert validate.goodness_of_fit(short_run, "first").p_value > P_MIN
    # negative control: the geometric law with p_suc is rejected
    assert validate.goodness_of_fit(short_run, "first", geometric=True).p_value < 1e-12


@pytest.mark.parametrize("n", [1, 2, 5, 20])
def test_bank_round_success_against_the_product_formula(n: int) -> None:
    run = _run(1000.0, 3, n_traj=200 * n if n > 1 else 2000, n_machines=n, seed=n)
    p = validate.round_success(run)
    assert p["exact"] == pytest.approx(1 - (1 - 0.1388888888888889) ** n, rel=1e-9)
    assert abs(p["z"]) < Z_MAX, p


def test_bank_first_round_law(short_run) -> None:
    run = _run(5.0, 40, n_traj=4000, n_machines=5, seed=9)
    assert validate.goodness_of_fit(run, "bank").p_value > P_MIN
    assert validate.goodness_of_fit(run, "bank", geometric=True).p_value < 1e-6


def test_waiting_time_table(long_run, short_run) -> None:
    for run in (long_run, short_run):
        table = validate.waiting_times(run)
        means = table[table["statistic"].isin(["mean", "std"])]
        assert (means["z"].abs() < Z_MAX).all(), means
        q = table[table["statistic"].str.startswith("q")]
        assert ((q["ci_low"] <= q["exact"]) & (q["exact"] <= q["ci_high"])).all(), q
        assert np.allclose(table["wait_value"], table["value"] * run.attempt_period)


def test_pair_rate_and_quality_by_attempt() -> None:
    run = _run(300.0, 200, n_traj=1000, seed=5)  # window 100: P(K' > 100) ~ 1e-6
    rate = validate.pair_rate(run)
    assert abs(rate["z"]) < Z_MAX, rate
    quality = validate.quality_by_attempt(run, k_max=4)
    seen = quality[quality["n"] >= 30]
    z = (seen["fidelity"] - seen["exact"]) / seen["se"]
    assert len(seen) >= 2
    assert (z.abs() < Z_MAX).all(), quality


def test_optimal_attempt_period_confirmed_by_simulation() -> None:
    """At the optimum T* for a fidelity floor of 0.97 (constraint active), the sampled
    pair rate and delivered fidelity agree with the exact values."""
    from trajectories.exact.optimal_period import optimal_attempt_period

    opt = optimal_attempt_period(MODEL, 0.97)
    assert opt.constraint_active
    run = _run(opt.attempt_period, 1100, n_traj=600, seed=11)
    for result in (
        validate.pair_rate(run),
        validate.delivered_fidelity(run),
    ):
        assert abs(result["z"]) < Z_MAX, result
    assert validate.pair_rate(run)["exact"] == pytest.approx(opt.rate, rel=1e-9)
