"""A small coverage study (``examples/coverage.py`` runs the full one): over 40
independent seeds, the 95% intervals of every resolved quantity cover the exact value
as often as a 95% binomial law allows, and intervals a third as wide (negative
control) do not.

False-alarm rate: a correct engine fails a quantity's check with probability
P(Binomial(n, 0.95) < k_min) <= 1e-4 (k_min computed below for the n resolved seeds);
with 7 quantities the test fails a correct engine with probability below 7e-4 per
change of random stream (less: the quantities of one seed are positively correlated).
"""

from __future__ import annotations

import pandas as pd
import pytest
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


def k_min(n: int) -> int:
    """Smallest count of covering seeds a 95% interval reaches with prob. >= 1-ALPHA."""
    return int(stats.binom.ppf(ALPHA, n, 0.95))


@pytest.fixture(scope="module")
def hits() -> pd.DataFrame:
    return pd.DataFrame([r for s in range(40) for r in interval_hits(CASE, 500 + s)])


def test_intervals_cover_the_exact_values(hits: pd.DataFrame) -> None:
    table = coverage_table(hits)
    assert set(table["quantity"]) >= {"p_suc", "negativity", "fidelity", "chsh"}
    for r in table.itertuples():
        assert r.resolved >= 35, r.quantity  # this case resolves nearly every seed
        covered = round(r.coverage * r.resolved)
        assert covered >= k_min(r.resolved), (r.quantity, covered, r.resolved)


def test_narrow_intervals_are_caught(hits: pd.DataFrame) -> None:
    """Negative control: intervals of +- 1.96 SE / 3 cover far too rarely."""
    res = hits[hits["resolved"]]
    narrow = res.assign(covered=res["z"].abs() <= 1.959963984540054 / 3)
    caught = [
        round(r.coverage * r.resolved) < k_min(r.resolved)
        for r in coverage_table(narrow).itertuples()
    ]
    assert all(caught)
