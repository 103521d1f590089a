"""Building blocks of examples/fig2.py, fig3.py and app_g.py (Figs. 2, 3, App. G).

The scripts are loaded from their files; their heavy optimisations are not run here.
Pinned: rho' and p_suc depend only on g/p_B, p_A/p_B and theta (any temperatures);
the Fig. 2 objectives equal the exact numerics; at theta = pi/4 rho' does not depend
on g; the thresholds p_suc = 6/23 (entangled) and (136 - 92 sqrt 2)/49 (CHSH) are the
g/p_B -> inf limits of B7-B11 (checked at 40 digits); the Fig. 3 lower bound is below
the maximal negativity; the App. G table.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import mpmath
import numpy as np
import pytest

from analysis.measures import chsh_max, negativity
from trajectories.exact.states import herald, steady_state
from trajectories.paper import qutrit as paper
from trajectories.system.machines import qutrit
from trajectories.system.models import ResetModel

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"_examples_{name}", EXAMPLES / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fig2 = _load("fig2")
fig3 = _load("fig3")
app_g = _load("app_g")


def _exact(g, theta, p_A, p_B, T_A=math.inf, T_B=0.0, eps=1.5):
    m = qutrit(g=g, theta=theta, eps=eps)
    return herald(
        steady_state(ResetModel(m, p_A=p_A, p_B=p_B, T_A=T_A, T_B=T_B)), m.filter
    )


# ------------------------------------------------------------------------- Fig. 2


@pytest.mark.parametrize(
    ("T_A", "T_B", "eps"), [(math.inf, 0.0, 1.5), (2.0, 0.1, 1.5), (5.0, 0.2, 0.5)]
)
def test_scale_free(T_A: float, T_B: float, eps: float) -> None:
    """rho' and p_suc are unchanged when g, p_A, p_B are scaled together."""
    a = _exact(0.02, 0.6, 0.005, 0.01, T_A, T_B, eps)
    b = _exact(2e-5, 0.6, 5e-6, 1e-5, T_A, T_B, eps)
    np.testing.assert_allclose(b.rho_post, a.rho_post, rtol=0, atol=1e-10)
    assert b.p_suc == pytest.approx(a.p_suc, rel=1e-9)


@pytest.mark.parametrize(
    ("x", "mu", "theta"), [(0.5, 0.2, math.pi / 4), (30.0, 1.5, 0.4), (3.0, 0.05, 1.1)]
)
def test_fig2_objectives_match_exact(x: float, mu: float, theta: float) -> None:
    """measures(x, mu, theta) = (p_suc, N, CHSH) of the exact steady state."""
    p_B = 1e-3
    h = _exact(x * p_B, theta, mu * p_B, p_B)
    p, n, s = fig2.measures(x, mu, theta)
    assert p == pytest.approx(h.p_suc, rel=1e-9)
    assert n == pytest.approx(negativity(h.rho_post), rel=1e-9)
    assert s == pytest.approx(chsh_max(h.rho_post), rel=1e-9)


def test_pi_over_4_state_independent_of_g() -> None:
    """At theta = pi/4 rho' = [diag(mu, mu+3, mu+3, mu), coherence 3]/(2 (2 mu + 3))."""
    mu = 0.7
    for x in (1e-3, 1.0, 1e3):
        rho = paper.filtered_state(x, math.pi / 4, mu, 1.0)
        np.testing.assert_allclose(rho, fig2.limit_state(mu), atol=1e-14)


@pytest.mark.parametrize("theta", [0.3, math.pi / 4, 1.2])
def test_limit_state_and_p_suc(theta: float) -> None:
    """limit_state and limit_success_probability are B2-B11 at g/p_B -> inf."""
    mu, x = 0.8, 1e7
    np.testing.assert_allclose(
        paper.filtered_state(x, theta, mu, 1.0), fig2.limit_state(mu, theta), atol=1e-12
    )
    assert paper.success_probability(x, theta, mu, 1.0) == pytest.approx(
        fig2.limit_success_probability(mu, theta), rel=1e-12
    )


def _p_suc_mp(x: mpmath.mpf, theta: mpmath.mpf, mu: mpmath.mpf) -> mpmath.mpf:
    """Eqs. B7-B11 at p_B = 1 in multiple precision."""
    g2, c4t, pA = x * x, mpmath.cos(4 * theta), mu
    A = g2 * g2 * pA * c4t * (pA + 1) * (pA + 2)
    B = g2 * g2 * (pA**3 + 11 * pA**2 + 26 * pA + 12)
    C = 2 * g2 * (pA + 1) ** 2 * (4 * pA**2 + 15 * pA + 6)
    D = 6 * pA * (pA + 1) ** 4
    num = (
        2 * g2 * pA * (2 * pA + 3) * (g2 * pA * c4t - g2 * (pA + 6) - 6 * (pA + 1) ** 2)
    )
    return num / (9 * A - 9 * (B + C + D))


def test_thresholds_closed_forms_high_precision() -> None:
    """6/23 and (136 - 92 sqrt 2)/49 are B7-B11 at mu = 3, 3(sqrt 2 - 1)/2, g -> inf."""
    with mpmath.workdps(50):
        th, big = mpmath.pi / 4, mpmath.mpf(10) ** 30
        p_ent = _p_suc_mp(big, th, mpmath.mpf(3))
        mu_chsh = 3 * (mpmath.sqrt(2) - 1) / 2
        p_chsh = _p_suc_mp(big, th, mu_chsh)
        assert abs(p_ent - mpmath.mpf(6) / 23) < mpmath.mpf(10) ** -40
        assert abs(p_chsh - (136 - 92 * mpmath.sqrt(2)) / 49) < mpmath.mpf(10) ** -40
    assert fig2.P_ENTANGLED == pytest.approx(float(p_ent), rel=1e-15)
    assert fig2.P_CHSH == pytest.approx(float(p_chsh), rel=1e-15)
    # N = 0 and CHSH = 2 exactly there (package measures on the limit states)
    assert negativity(fig2.limit_state(3.0 * (1 - 1e-9))) > 0
    assert negativity(fig2.limit_state(3.0 * (1 + 1e-9))) == 0
    assert chsh_max(fig2.limit_state(fig2.MU_CHSH)) == pytest.approx(2.0, abs=1e-14)
    # and the numerical crossings agree
    assert fig2.limit_threshold("negativity") == pytest.approx(6 / 23, rel=1e-12)
    assert fig2.limit_threshold("chsh") == pytest.approx(fig2.P_CHSH, rel=1e-12)


def test_thresholds_grow_with_coupling_ratio() -> None:
    """The bounded thresholds at g/p_B = 1, 10, 1e3 increase towards the suprema."""
    vals = [fig2.bounded_threshold("negativity", x)[0] for x in (1.0, 10.0, 1e3)]
    assert vals[0] < vals[1] < vals[2] < fig2.P_ENTANGLED
    assert vals[2] == pytest.approx(fig2.P_ENTANGLED, rel=1e-5)
    assert fig2.bounded_threshold("chsh", 1e3)[0] == pytest.approx(
        fig2.P_CHSH, rel=1e-5
    )


def test_optimiser_reaches_supremum_curve() -> None:
    """At p_suc = 0.1 the bounded optimum is at the bound, just below the supremum."""
    n_sup, s_sup = fig2.limit_curves(0.1)
    n, x, _, theta = fig2.optimise(0.1, 1, fig2.X_MAX)
    assert n <= n_sup + 1e-12
    assert n == pytest.approx(n_sup, rel=1e-5)
    assert x == pytest.approx(fig2.X_MAX, rel=1e-6)
    assert theta == pytest.approx(math.pi / 4, abs=1e-4)
    s, *_ = fig2.optimise(0.1, 2, fig2.X_MAX)
    assert s == pytest.approx(s_sup, rel=1e-5)


# ------------------------------------------------------------------------- Fig. 3


def test_fig3_objective_matches_direct_solve() -> None:
    """heralded(z, ...) is the steady state of ResetModel at p_B = P_B, the ratios."""
    z = np.array([math.log(0.5), math.log(0.1), 0.7])
    h = fig3.heralded(z, 2.0, 0.1, 1.5)
    d = _exact(0.5 * fig3.P_B, 0.7, 0.1 * fig3.P_B, fig3.P_B, 2.0, 0.1, 1.5)
    np.testing.assert_allclose(h.rho_post, d.rho_post, atol=1e-12)
    assert fig3.coherence(z, 2.0, 0.1, 1.5) == pytest.approx(abs(d.rho_post[1, 2]))
    # at the maximal gradient it is the closed form B2
    hi = fig3.heralded(z, math.inf, 0.0, 1.5)
    np.testing.assert_allclose(
        hi.rho_post, paper.filtered_state(0.5, 0.7, 0.1, 1.0), atol=1e-12
    )


def test_fig3_lower_bound_below_max_negativity() -> None:
    """At T_A = 3, (T_B, eps) = (0.1, 1.5): N(max coherence) <= max N, both > 0."""
    args = (3.0, 0.1, 1.5)
    c, z_c = fig3.maximise(fig3.coherence, [fig3.START], args)
    n_c = fig3.neg(z_c, *args)
    n_max, z_n = fig3.maximise(fig3.signed_negativity, [z_c], args)
    assert 0 < n_c <= n_max + 1e-12
    assert fig3.neg(z_n, *args) == pytest.approx(n_max, rel=1e-9)
    assert c <= 0.5


# ------------------------------------------------------------------------- App. G


def test_app_g_table() -> None:
    rows = {(r["equation"], r["quantity"]): r["ours"] for r in app_g.table()}
    vals = list(rows.values())
    assert vals[0] == pytest.approx(0.00403538465394, rel=1e-8)  # G2 optimum
    assert round(vals[0], 3) == 0.004
    assert vals[2] == pytest.approx((math.sqrt(3) - 1) / 8, rel=1e-15)  # G4
    assert round(vals[3], 3) == 0.758
    assert vals[4] == pytest.approx((math.sqrt(2) - 1) / 4, rel=1e-15)  # G7 sup
    assert round(vals[5], 3) == 0.104  # G7 at the quoted parameters
    assert vals[6] == 11 / 16
    assert vals[8] == pytest.approx(1 / (2 + 2 * math.sqrt(6)), rel=1e-15)  # G11


@pytest.mark.slow
def test_limit_derivation_symbolic() -> None:
    """The g -> inf limits of B3-B6 and B7-B11 (sympy, development check)."""
    sp = pytest.importorskip("sympy")
    g, m = sp.symbols("g mu", positive=True)
    th = sp.pi / 4
    base = g**2 * (m + 3) + 3 * (m + 1) ** 2
    den = (2 * m + 3) * (
        -(g**2) * m * sp.cos(4 * th) + g**2 * (m + 6) + 6 * (m + 1) ** 2
    )
    t = 3 * sp.sin(2 * th) * base / den
    assert sp.simplify(t - sp.Rational(3, 2) / (2 * m + 3)) == 0  # no g at pi/4
    c4 = sp.cos(4 * th)
    A = g**4 * m * c4 * (m + 1) * (m + 2)
    B = g**4 * (m**3 + 11 * m**2 + 26 * m + 12)
    C = 2 * g**2 * (m + 1) ** 2 * (4 * m**2 + 15 * m + 6)
    D = 6 * m * (m + 1) ** 4
    num = (
        2 * g**2 * m * (2 * m + 3) * (g**2 * m * c4 - g**2 * (m + 6) - 6 * (m + 1) ** 2)
    )
    lim = sp.limit(num / (9 * A - 9 * (B + C + D)), g, sp.oo)
    assert sp.simplify(lim - 2 * m * (2 * m + 3) / (9 * (m**2 + 4 * m + 2))) == 0
    assert sp.nsimplify(lim.subs(m, 3)) == sp.Rational(6, 23)
    p_chsh = sp.radsimp(lim.subs(m, 3 * (sp.sqrt(2) - 1) / 2))
    assert sp.simplify(p_chsh - (136 - 92 * sp.sqrt(2)) / 49) == 0
