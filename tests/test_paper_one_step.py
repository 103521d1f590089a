"""App. E (one-step machines): Eqs. E1-E10 against the exact numerics of the package."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from analysis.measures import chsh_max, negativity
from trajectories.exact.states import herald, steady_state
from trajectories.paper.one_step import (
    ETA,
    FIG6_D20,
    e3_chsh,
    e3_negativity,
    e3_state,
    eta,
    heralded_limit,
    limit_state,
    relaxed_negativity,
)
from trajectories.system.machine import Machine, Transition
from trajectories.system.machines import one_step
from trajectories.system.models import ResetModel

RTOL = 1e-9


def assert_rel(actual: np.ndarray, expected: np.ndarray, rtol: float = RTOL) -> None:
    """Entrywise |actual - expected| <= rtol (|expected| + max|expected|)."""
    expected = np.asarray(expected)
    np.testing.assert_allclose(
        actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max()
    )


def one_step_model(d: int, eps: float, gamma: float = 0.5) -> ResetModel:
    """App. E parameters in units of p_B: p_A = g = eps, g_1 = gamma p_B."""
    return ResetModel(one_step(d, g=eps, g1=gamma), p_A=eps, p_B=1.0)


def package_limit(d: int, gamma: float = 0.5) -> tuple[np.ndarray, float]:
    """rho' of the package's Liouvillian at g/p_B = 1e-30, solved with 80 digits."""
    rho, p_suc = heralded_limit(lambda x: one_step_model(d, x, gamma))
    return rho, float(p_suc)


def richardson_post(d: int, eps: float) -> np.ndarray:
    """2 rho'(eps) - rho'(2 eps) from the package's float64 solver: limit + O(eps^2)."""
    posts = []
    for e in (eps, 2 * eps):
        model = one_step_model(d, e)
        posts.append(herald(steady_state(model), model.machine.filter).rho_post)
    return 2 * posts[0] - posts[1]


# ---------------------------------------------------------------------------- Eq. E1


def test_e1_printed_indices_leave_the_levels() -> None:
    """Printed: |k+1, d-k-1><k, d-k|; at k = 0 the bra is |0, d>, beyond B's levels."""
    d = 4
    printed = [((k + 1, d - k - 1), (k, d - k)) for k in range(d - 1)]
    assert printed[0][1] == (0, d)
    with pytest.raises(ValueError, match="outside the levels"):
        Machine(
            tuple(range(d)),
            tuple(range(d)),
            [Transition(ket, bra, 0.1) for ket, bra in printed],
        )


@pytest.mark.parametrize("d", [3, 5, 8])
def test_e1_corrected_chain_is_the_machine(d: int) -> None:
    """Corrected: |k+1, d-2-k><k, d-1-k|, energy d-1; link k = 0 (g_1) is filtered."""
    m = one_step(d, g=0.01, g1=0.3)
    links = {(t.ket, t.bra): t.coupling for t in m.transitions}
    expected = {((k + 1, d - 2 - k), (k, d - 1 - k)) for k in range(d - 1)}
    assert set(links) == expected
    assert links[((1, d - 2), (0, d - 1))] == 0.3
    assert all(sum(ket) == sum(bra) == d - 1 for ket, bra in links)
    V = m.filter.isometry()
    c0, c1 = m.index(0, d - 1), m.index(1, d - 2)
    assert V[c0, 1] == 1  # relabelled |0,1>
    assert V[c1, 2] == 1  # relabelled |1,0>


# ------------------------------------------------------------------ Eqs. E3-E9


@pytest.mark.parametrize("d", sorted(ETA))
def test_eta_exact(d: int) -> None:
    """The exact-rational series reproduces the fractions of Eqs. E4-E9 and Eq. E3."""
    lim = limit_state(d, exact=True)
    assert lim.eta == eta(d)
    assert lim.coherence == lim.eta  # varrho'[1, 2] = -i eta_d
    assert lim.populations == (0, eta(d), 1 - eta(d), 0)
    assert lim.order == 2 * (d - 2)


@pytest.mark.parametrize("d", sorted(ETA))
def test_eta_float_and_e3_form(d: int) -> None:
    lim = limit_state(d)
    assert lim.eta == pytest.approx(float(ETA[d]), rel=1e-13)
    assert_rel(lim.matrix(), e3_state(float(ETA[d])), rtol=1e-13)


@pytest.mark.parametrize("d", [3, 4, 5])
@pytest.mark.parametrize("gamma", [0.5, 1.3])
def test_limit_state_matches_package_liouvillian(d: int, gamma: float) -> None:
    """Series vs the package's Liouvillian at g/p_B = 1e-30 (mpmath, 80 digits)."""
    lim = limit_state(d, gamma)
    rho, p_suc = package_limit(d, gamma)
    assert_rel(rho, lim.matrix())
    assert p_suc / 1e-30**lim.order == pytest.approx(lim.p_suc_coefficient, rel=RTOL)


@pytest.mark.parametrize("d", [3, 6, 8])
def test_limit_state_matches_package_float64_solver(d: int) -> None:
    """The package's float64 steady state at g/p_B = 1e-6, 2e-6, extrapolated."""
    assert_rel(richardson_post(d, 1e-6), limit_state(d).matrix())


def test_limit_independent_of_p_B() -> None:
    """Only g/p_B and g_1/p_B matter: p_B = 1/4 (exact square root) gives the same."""
    rho, _ = heralded_limit(
        lambda x: ResetModel(one_step(3, g=x, g1=0.125), p_A=x, p_B=0.25)
    )
    assert_rel(rho, e3_state(3 / 8))


def test_p_suc_order() -> None:
    """p_suc ~ c (g/p_B)^(2(d-2)), with exact coefficients for small d."""
    coefficients = {3: Fraction(8, 15), 4: Fraction(26, 25), 5: Fraction(1592, 625)}
    for d, c in coefficients.items():
        lim = limit_state(d, exact=True)
        assert (lim.order, lim.p_suc_coefficient) == (2 * (d - 2), c)


# ----------------------------------------------------------------------- Fig. 6


def test_fig6_d20() -> None:
    """d = 20: negativity 0.4926 and CHSH 2.8075 (Fig. 6 text), from the limit state."""
    lim = limit_state(20)
    rho = lim.matrix()
    assert_rel(rho, e3_state(lim.eta), rtol=1e-13)
    N, S = negativity(rho), chsh_max(rho)
    assert round(N, 4) == FIG6_D20["negativity"]
    assert round(S, 4) == FIG6_D20["chsh"]
    assert N == pytest.approx(0.49256199531733, rel=1e-12)
    assert S == pytest.approx(2.80746809557934, rel=1e-12)
    assert N == pytest.approx(e3_negativity(lim.eta), rel=1e-12)
    assert S == pytest.approx(e3_chsh(lim.eta), rel=1e-12)


def test_fig6_d20_matches_package_float64_solver() -> None:
    assert_rel(richardson_post(20, 1e-6), limit_state(20).matrix())


def test_fig6_negativity_increases_towards_one_half() -> None:
    etas = [limit_state(d).eta for d in range(3, 21)]
    assert all(a < b for a, b in itertools.pairwise(etas))
    assert etas[-1] < 0.5


@pytest.mark.slow
def test_fig6_d20_exact() -> None:
    """The float64 series at d = 20 agrees with the exact-rational one."""
    exact = limit_state(20, exact=True)
    assert exact.eta == Fraction(555971560730898278699, 1128734181720034803209)
    assert limit_state(20).eta == pytest.approx(float(exact.eta), rel=1e-14)


# ---------------------------------------------------------------------- Eq. E10


def e10_printed_d3(gamma: float) -> float:
    """Eq. E10 for d = 3 as printed (typo)."""
    return (3 - gamma) / (2 + 8 * gamma)


GAMMAS = [0.1, 0.5, 1.0, 2.0, 3.7]


@pytest.mark.parametrize("gamma", GAMMAS)
def test_e10_d3_printed_form_is_wrong(gamma: float) -> None:
    N = negativity(limit_state(3, gamma).matrix())
    assert abs(e10_printed_d3(gamma) - N) > 0.04
    assert N == pytest.approx(relaxed_negativity(3, gamma), rel=RTOL)
    assert relaxed_negativity(3, gamma) == pytest.approx(
        3 * gamma / (2 + 8 * gamma**2), rel=1e-15
    )


def test_e10_d3_printed_form_contradicts_the_text() -> None:
    """Printed: 5/12 at gamma = 1/2 (not eta_3 = 3/8), 3/2 at 0, negative for > 3."""
    assert e10_printed_d3(0.5) == pytest.approx(5 / 12)
    assert e10_printed_d3(0.0) == 1.5 > 0.5
    assert e10_printed_d3(3.7) < 0
    assert relaxed_negativity(3, Fraction(1, 2)) == ETA[3]


@pytest.mark.parametrize("gamma", GAMMAS)
def test_e10_d4_as_printed(gamma: float) -> None:
    N = negativity(limit_state(4, gamma).matrix())
    assert N == pytest.approx(relaxed_negativity(4, gamma), rel=RTOL)
    assert relaxed_negativity(4, Fraction(1, 2)) == ETA[4]


@pytest.mark.parametrize("d", [3, 4])
@pytest.mark.parametrize("gamma", [Fraction(1, 3), Fraction(7, 4), Fraction(5)])
def test_e10_exact(d: int, gamma: Fraction) -> None:
    """Zero corners, so N = |varrho'_12|: the corrected E10 holds in exact rationals."""
    lim = limit_state(d, gamma, exact=True)
    assert lim.populations[0] == lim.populations[3] == 0
    assert lim.coherence == relaxed_negativity(d, gamma)


@pytest.mark.parametrize("d", [3, 4])
def test_e10_against_package_liouvillian(d: int) -> None:
    rho, _ = package_limit(d, gamma=2.0)
    assert negativity(rho) == pytest.approx(relaxed_negativity(d, 2.0), rel=RTOL)


def test_input_checks() -> None:
    with pytest.raises(ValueError, match=r"d = 3\.\.8"):
        eta(9)
    with pytest.raises(ValueError, match="d = 3, 4"):
        relaxed_negativity(5, 0.5)
    with pytest.raises(ValueError, match=">= 3"):
        limit_state(2)
    with pytest.raises(ValueError, match="gamma"):
        limit_state(3, 0.0)
    with pytest.raises(ValueError, match="trace preserving"):
        heralded_limit(
            lambda x: ResetModel(one_step(3, g=0.1, g1=0.05), p_A=0.3, p_B=x)
        )
    assert math.isclose(e3_chsh(0.5), 2 * math.sqrt(2))
