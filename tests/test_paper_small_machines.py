"""App. G (qubit-qubit, qubit-qutrit machines): Eqs. G1-G11 against exact numerics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from analysis.measures import negativity, purity
from trajectories.exact.states import herald, steady_state
from trajectories.paper.one_step import heralded_limit
from trajectories.paper.small_machines import (
    G2_QUOTED,
    G7_QUOTED,
    G11_PURITY,
    qubit_qubit_inverted_negativity,
    qubit_qubit_inverted_optimum,
    qubit_qubit_inverted_state,
    qubit_qubit_negativity,
    qubit_qubit_optimum,
    qubit_qubit_state,
    qubit_qutrit_best_p_A,
    qubit_qutrit_inverted_limit_state,
    qubit_qutrit_inverted_negativity,
    qubit_qutrit_inverted_negativity_K,
    qubit_qutrit_inverted_optimum,
    qubit_qutrit_inverted_state,
    qubit_qutrit_negativity,
    qubit_qutrit_optimum,
    qubit_qutrit_state,
    qubit_qutrit_strong_g1_negativity,
    qubit_qutrit_weak_g2_state,
)
from trajectories.system.machines import qubit_qubit, qubit_qutrit
from trajectories.system.models import ResetModel

RTOL = 1e-9
SQ2, SQ3, SQ6 = math.sqrt(2), math.sqrt(3), math.sqrt(6)


def assert_rel(actual: np.ndarray, expected: np.ndarray, rtol: float = RTOL) -> None:
    """Entrywise |actual - expected| <= rtol (|expected| + max|expected|)."""
    expected = np.asarray(expected)
    np.testing.assert_allclose(
        actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max()
    )


def qubits(g: float, p_A: float, p_B: float, T_A: float | str) -> np.ndarray:
    """Exact steady state of the qubit-qubit machine, T_B = 0."""
    return steady_state(ResetModel(qubit_qubit(g), p_A, p_B, T_A, 0.0))


def qutrit_cold_qubit(g1: float, g2: float, p_A: float) -> np.ndarray:
    """Package numerics for p_B -> 0: T_A = 0, T_B = inf, qutrit levels {1, 2}."""
    rho, _ = heralded_limit(
        lambda x: ResetModel(qubit_qutrit(g1, g2, "upper"), p_A, x, 0.0, math.inf)
    )
    return rho


def qutrit_inverted_qubit(g1: float, g2: float, p_A: float) -> np.ndarray:
    """Package numerics for p_B -> 0: T_A = 0^-, T_B = 0, qutrit levels {0, 1}."""
    rho, _ = heralded_limit(
        lambda x: ResetModel(qubit_qutrit(g1, g2, "lower"), p_A, x, "-0", 0.0)
    )
    return rho


PARAMS = [(0.013, 0.021, 0.037), (2.2e-3, 2.3e-3, 9.5e-3), (0.1, 0.003, 0.02)]


# ------------------------------------------------------------------- G1, G2


@pytest.mark.parametrize(("g", "p_A", "p_B"), PARAMS)
def test_g1(g: float, p_A: float, p_B: float) -> None:
    rho = qubits(g, p_A, p_B, math.inf)
    assert_rel(rho, qubit_qubit_state(g, p_A, p_B))
    assert qubit_qubit_negativity(g, p_A, p_B) == pytest.approx(
        negativity(rho), rel=RTOL, abs=1e-15
    )


def test_g2_quoted_point() -> None:
    """N = 0.004 at the quoted g, p_A, p_B: 0.0040324 to the printed precision."""
    q = G2_QUOTED
    rho = qubits(q["g"], q["p_A"], q["p_B"], math.inf)
    assert round(negativity(rho), 3) == q["negativity"]
    assert negativity(rho) == pytest.approx(0.00403238758891, rel=1e-9)


def test_g2_true_optimum() -> None:
    """The optimum of G1 is N = 0.0040353847 at g/p_B = 0.22908, p_A/p_B = 0.24762."""
    opt = qubit_qubit_optimum()
    assert opt.negativity == pytest.approx(0.00403538465394249730, rel=1e-12)
    assert opt.params["g"] == pytest.approx(0.22908427878529436, rel=1e-6)
    assert opt.params["p_A"] == pytest.approx(0.24761667906183490, rel=1e-6)
    # the exact numerics at the optimum, with p_B = 9.5e-3 as in G2
    p_B = 9.5e-3
    rho = qubits(opt.params["g"] * p_B, opt.params["p_A"] * p_B, p_B, math.inf)
    assert negativity(rho) == pytest.approx(opt.negativity, rel=RTOL)
    assert purity(rho) == pytest.approx(opt.purity, rel=RTOL)
    assert opt.negativity > negativity(qubits(2.2e-3, 2.3e-3, 9.5e-3, math.inf))
    for dg, da in [(1.01, 1), (0.99, 1), (1, 1.01), (1, 0.99)]:
        g, a = opt.params["g"] * dg, opt.params["p_A"] * da
        assert qubit_qubit_negativity(g, a, 1.0) < opt.negativity


# ------------------------------------------------------------------- G3, G4


@pytest.mark.parametrize(("g", "p_A", "p_B"), PARAMS)
def test_g3(g: float, p_A: float, p_B: float) -> None:
    assert_rel(qubits(g, p_A, p_B, "-0"), qubit_qubit_inverted_state(g, p_A, p_B))


@pytest.mark.parametrize("g", [0.001, 0.004, 0.0099, 0.01, 0.02])
def test_g4(g: float) -> None:
    p = 0.01
    N = negativity(qubits(g, p, p, "-0"))
    assert N == pytest.approx(
        qubit_qubit_inverted_negativity(g, p), rel=RTOL, abs=1e-15
    )
    assert (N > 1e-12) == (g < p)


def test_g4_optimum() -> None:
    """g = p_B/(1 + sqrt 3): N = (sqrt 3 - 1)/8, purity 0.758 = (13 + 3 sqrt 3)/24."""
    opt = qubit_qubit_inverted_optimum()
    p = 0.01
    rho = qubits(opt.params["g"] * p, p, p, "-0")
    assert opt.params["g"] == pytest.approx(1 / (1 + SQ3), rel=1e-15)
    assert negativity(rho) == pytest.approx((SQ3 - 1) / 8, rel=RTOL)
    assert purity(rho) == pytest.approx((13 + 3 * SQ3) / 24, rel=RTOL)
    assert round(purity(rho), 3) == 0.758
    assert (opt.negativity, opt.purity) == ((SQ3 - 1) / 8, (13 + 3 * SQ3) / 24)


def test_g4_is_the_optimum_of_g3() -> None:
    """Optimising G3 over both g/p_B and p_A/p_B lands on p_A = p_B (text after G4)."""
    res = minimize(
        lambda v: -negativity(qubit_qubit_inverted_state(*np.exp(v), 1.0)),
        np.log([0.2, 2.0]),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-16},
    )
    assert -res.fun == pytest.approx((SQ3 - 1) / 8, rel=1e-12)
    assert np.exp(res.x) == pytest.approx([1 / (1 + SQ3), 1.0], rel=1e-5)


# ------------------------------------------------------------------- G6, G7

QUTRIT_PARAMS = [(0.013, 0.007, 1.0), (2.0, 0.3, 1.0), (0.05, 0.9, 1.0)]


@pytest.mark.parametrize(("g1", "g2", "p_A"), QUTRIT_PARAMS)
def test_g6(g1: float, g2: float, p_A: float) -> None:
    rho = qutrit_cold_qubit(g1, g2, p_A)
    assert_rel(rho, qubit_qutrit_state(g1, g2, p_A))
    assert negativity(rho) == pytest.approx(
        qubit_qutrit_negativity(g1, g2, p_A), rel=RTOL
    )


def test_g6_best_p_A_maximises_the_coherence() -> None:
    g1, g2 = 0.7, 0.2
    best = qubit_qutrit_best_p_A(g1, g2)

    def coherence(p_A: float) -> float:
        return abs(qubit_qutrit_state(g1, g2, p_A)[1, 2])

    assert coherence(best) > max(coherence(best * 1.001), coherence(best / 1.001))


def test_g6_weak_g2_limit() -> None:
    """g2 -> 0 at the best p_A: N = (sqrt 3 - 1)/8 and purity 17/32, as stated."""
    target = qubit_qutrit_weak_g2_state()
    assert negativity(target) == pytest.approx((SQ3 - 1) / 8, rel=1e-14)
    assert purity(target) == pytest.approx(17 / 32, rel=1e-14)
    g1, g2 = 1.0, 1e-6
    p_A = qubit_qutrit_best_p_A(g1, g2)
    rho = qutrit_cold_qubit(g1, g2, p_A)
    assert_rel(rho, target)
    assert_rel(qubit_qutrit_state(g1, g2, p_A), target)


def test_g7_quoted_point() -> None:
    """N = 0.104 at the quoted g1, g2, p_A; there the purity is 0.6859, not 0.6875.

    0.6875 = 11/16 is the purity of the supremum (test_g7_supremum), which the quoted,
    rounded parameters only approach.
    """
    q = G7_QUOTED
    rho = qutrit_cold_qubit(q["g1"], q["g2"], q["p_A"])
    assert_rel(rho, qubit_qutrit_state(q["g1"], q["g2"], q["p_A"]))
    assert round(negativity(rho), 3) == q["negativity"]
    assert negativity(rho) == pytest.approx(0.103552158802239, rel=RTOL)
    assert purity(rho) == pytest.approx(0.685851202741479, rel=RTOL)
    assert abs(purity(rho) - q["purity"]) > 1e-3


def test_g7_supremum() -> None:
    """N = 0.104 is the supremum (sqrt 2 - 1)/4 at g2/g1 -> 0, purity -> 11/16."""
    opt = qubit_qutrit_optimum()
    u = opt.params["p_A"]
    assert opt.negativity == pytest.approx((SQ2 - 1) / 4, rel=1e-15)
    assert qubit_qutrit_strong_g1_negativity(u) == pytest.approx(
        opt.negativity, rel=1e-15
    )
    for du in (0.999, 1.001):
        assert qubit_qutrit_strong_g1_negativity(u * du) < opt.negativity
    # exact numerics close to the limit, g2/g1 = 1e-6 (corrections O(1e-12))
    rho = qutrit_cold_qubit(1.0, 1e-6, u * 1e-6)
    assert negativity(rho) == pytest.approx(opt.negativity, rel=RTOL)
    assert purity(rho) == pytest.approx(11 / 16, rel=RTOL)
    # never exceeded, and approached from below as g2/g1 decreases
    rng = np.random.default_rng(7)
    for g2, p_A in np.exp(rng.uniform(-12, 3, size=(500, 2))):
        assert qubit_qutrit_negativity(1.0, g2, p_A) <= opt.negativity
    values = [qubit_qutrit_negativity(1.0, r, u * r) for r in (1e-1, 1e-2, 1e-3)]
    assert values == sorted(values)


# ------------------------------------------------------------------- G8-G11


@pytest.mark.parametrize(("g1", "g2", "p_A"), QUTRIT_PARAMS)
def test_g8_g9(g1: float, g2: float, p_A: float) -> None:
    rho = qutrit_inverted_qubit(g1, g2, p_A)
    assert_rel(rho, qubit_qutrit_inverted_state(g1, g2, p_A))
    assert negativity(rho) == pytest.approx(
        qubit_qutrit_inverted_negativity(g1, g2, p_A), rel=RTOL
    )


@pytest.mark.parametrize("K", [0.5, 2.0, 3.3, 10.0])
def test_g10(K: float) -> None:
    """p_A = K g1 with g1/g2 = 1e-6 (corrections O(1e-12))."""
    g1, g2 = 1e-6, 1.0
    rho = qutrit_inverted_qubit(g1, g2, K * g1)
    assert_rel(rho, qubit_qutrit_inverted_limit_state(K))
    assert negativity(rho) == pytest.approx(
        qubit_qutrit_inverted_negativity_K(K), rel=RTOL
    )


def test_g11() -> None:
    """K = sqrt(6 + 2 sqrt 6): N = 1/(2 + 2 sqrt 6) = 0.145, the supremum of G9."""
    opt = qubit_qutrit_inverted_optimum()
    K = opt.params["p_A"]
    assert opt.negativity == pytest.approx(1 / (2 + 2 * SQ6), rel=1e-15)
    assert round(opt.negativity, 3) == 0.145
    assert qubit_qutrit_inverted_negativity_K(K) == pytest.approx(
        opt.negativity, rel=1e-15
    )
    rho = qutrit_inverted_qubit(1e-6, 1.0, K * 1e-6)
    assert negativity(rho) == pytest.approx(opt.negativity, rel=RTOL)
    assert purity(rho) == pytest.approx(G11_PURITY, rel=RTOL)
    assert opt.purity == pytest.approx(G11_PURITY, rel=1e-14)
    rng = np.random.default_rng(11)
    for g2, p_A in np.exp(rng.uniform(-12, 12, size=(500, 2))):
        assert qubit_qutrit_inverted_negativity(1.0, g2, p_A) <= opt.negativity


def test_g11_single_positive_root() -> None:
    """dN/dK (G10) vanishes at K = sqrt(6 + 2 sqrt 6) only; the text says two roots.

    dN/dK has the sign of K (2 sqrt(1 + K^2) + 4 - K^2): zero at K = 0 (a minimum) and
    at one positive K. sqrt(6 - 2 sqrt 6) solves only the squared equation.
    """

    def slope(K: float, h: float = 1e-6) -> float:
        f = qubit_qutrit_inverted_negativity_K
        return (f(K + h) - f(K - h)) / (2 * h)

    K_star = math.sqrt(6 + 2 * SQ6)
    assert abs(slope(K_star)) < 1e-10
    assert slope(math.sqrt(6 - 2 * SQ6)) > 0.05
    Ks = np.linspace(1e-3, 40, 4001)
    signs = np.sign([K * (2 * math.sqrt(1 + K * K) + 4 - K * K) for K in Ks])
    assert np.count_nonzero(np.diff(signs)) == 1


def test_input_checks() -> None:
    with pytest.raises(ValueError, match="p_A"):
        qubit_qubit_state(0.1, 0.0, 0.1)
    with pytest.raises(ValueError, match="g2"):
        qubit_qutrit_state(0.1, -1.0, 0.1)
    with pytest.raises(ValueError, match="K"):
        qubit_qutrit_inverted_negativity_K(-1.0)


def test_herald_of_full_state_is_g6_shape() -> None:
    """At small finite p_B the package's float64 rho' is already close to G6."""
    g1, g2, p_A = 0.013, 0.007, 0.019
    m = qubit_qutrit(g1, g2, "upper")
    rho = steady_state(ResetModel(m, p_A, 1e-7 * p_A, 0.0, math.inf))
    post = herald(rho, m.filter).rho_post
    assert_rel(post, qubit_qutrit_state(g1, g2, p_A), rtol=1e-5)
