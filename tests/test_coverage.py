"""A small coverage study (``examples/coverage_study.py`` runs the full one): over 40
independent runs, the 95% intervals of every resolved quantity cover the exact value
as often as a 95% binomial law allows, and intervals a quarter as wide (negative
control) do not.

Measured false-alarm rate: 3.9e-4 per change of random stream (95% upper bound
0.012; 45 seeds of 40 runs each, `python examples/seed_scan.py --checks 'coverage:*'
--seeds 45 --first-seed 2000000`; no failure): its one stochastic check, with its
negative control.

The check keeps a level of 1e-4 per quantity (``Outcome.per_test``), not the
suite's common level per check: a quantity fails when its count c of covering runs
among the n resolved ones has P(Binomial(n, 0.95) <= c) < 1e-4 (c <= 30 of 40:
probability 2.1e-5 for intervals of exact 95% coverage); with 7 quantities a
correct engine fails with probability below 7 x 2.1e-5 = 1.4e-4 per change of
random stream (Bonferroni; less: the quantities of one run are positively
correlated). The negative control (``NARROW``) escapes with probability below
7 x 3e-7.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from calibration import Bound, Outcome
from scipy import stats

from trajectories.system.machines import qutrit
from trajectories.system.models import ResetModel
from trajectories.validation.coverage import CoverageCase, coverage_table, interval_hits

CASE = CoverageCase(
    "qutrit reset, p_suc 0.30, T = 20",
    ResetModel(qutrit(g=0.2), 0.05, 0.01, T_A="inf", T_B=0.0),
    20.0,
    20,
    2000,
)
ALPHA = 1e-4
"""Level per quantity of the count of covering runs."""

RUNS = 40
FIRST_RUN = 500
REPORTED = {"p_suc", "negativity", "fidelity", "chsh"}
NARROW = 1.959963984540054 / 4
"""Half-width of the negative control's intervals, in SEs: 95% intervals a quarter
as wide cover with probability 0.38, and a quantity escapes (P(Binomial(40, 0.95)
<= c) >= 1e-4, c >= 31 of 40) with probability 3e-7. A third as wide (coverage 0.49)
escapes with probability 1.8e-4 per quantity: with 7 quantities, the negative
control would fail a correct engine up to 1.3e-3 of the time."""


def run_seeds(seed: int) -> range:
    """The seeds of the 40 runs of the check at ``seed``: 500-539 for seed 0, and
    disjoint blocks of 40 for the other seeds."""
    start = FIRST_RUN + RUNS * seed
    return range(start, start + RUNS)


def interval_table(seed: int) -> pd.DataFrame:
    """Per run and quantity: resolved, covered, z (``interval_hits``)."""
    return pd.DataFrame([r for s in run_seeds(seed) for r in interval_hits(CASE, s)])


def binomial_p(table: pd.DataFrame) -> list[float]:
    """Per quantity, P(Binomial(n, 0.95) <= c) for c covering runs of n resolved."""
    return [
        float(stats.binom.cdf(round(r.coverage * r.resolved), r.resolved, 0.95))
        if r.resolved
        else math.nan
        for r in table.itertuples()
    ]


def narrow_hits(hits: pd.DataFrame) -> pd.DataFrame:
    """The resolved runs with intervals of +- 1.96 SE / 4 (negative control)."""
    res = hits[hits["resolved"]]
    return res.assign(covered=res["z"].abs() <= NARROW)


def coverage_outcome(hits: pd.DataFrame) -> Outcome:
    """Coverage counts of every quantity at 1e-4 each; every quantity resolved at
    35 runs or more (this case resolves nearly every run); the negative control's
    largest p-value below 1e-4."""
    table = coverage_table(hits)
    narrow = max(max(binomial_p(coverage_table(narrow_hits(hits)))), 1e-300)
    return Outcome.of(
        p=binomial_p(table),
        bounds=[
            *(
                Bound(f"{r.quantity} resolved", r.resolved, low=35)
                for r in table.itertuples()
            ),
            Bound(
                "log10 p of the narrow intervals",
                math.log10(narrow),
                high=math.log10(ALPHA),
            ),
        ],
        flags=[("p_suc and the measures reported", set(table["quantity"]) >= REPORTED)],
        label="coverage",
    ).per_test(ALPHA)


def check_coverage(seed: int = 0) -> Outcome:
    """The coverage of the 40 runs of ``run_seeds(seed)``."""
    return coverage_outcome(interval_table(seed))


STOCHASTIC_CHECKS = {"coverage": check_coverage}
"""Every stochastic check of this module as a function of the seed."""


@pytest.fixture(scope="module")
def hits() -> pd.DataFrame:
    return interval_table(0)


def test_intervals_cover_the_exact_values(hits: pd.DataFrame) -> None:
    coverage_outcome(hits).check()


def test_narrow_intervals_are_caught(hits: pd.DataFrame) -> None:
    """Negative control: intervals of +- 1.96 SE / 4 cover far too rarely."""
    p = binomial_p(coverage_table(narrow_hits(hits)))
    assert all(x < ALPHA for x in p), p
