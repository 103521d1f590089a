"""Figs. 5(b), 6, 7, 8: the numbers the figures of the Lindblad model and App. E use."""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from conftest import fig5b_model

from analysis.measures import chsh_max, negativity
from trajectories.exact.states import herald, steady_state
from trajectories.paper.lindblad import CAPTION, VARIANTS, peak, point, scan
from trajectories.paper.one_step import (
    ETA,
    FIG6_D20,
    limit_state,
    relaxed_negativity,
)

T_A_BOX = np.geomspace(0.05, 20.0, 8)
T_B_BOX = np.geomspace(0.02, 2.0, 8)


# ---------------------------------------------------------------------- Fig. 5(b)


def test_printed_variant_is_the_readme_model() -> None:
    """The 'printed' reading is Eq. F6 with the caption's parameters, g1 = g2."""
    ref = fig5b_model()
    h = herald(steady_state(ref), ref.machine.filter)
    n, p = point(VARIANTS["printed"], 3.0, 0.2)
    assert n == pytest.approx(negativity(h.rho_post), rel=1e-12)
    assert p == pytest.approx(h.p_suc, rel=1e-12)


def test_printed_model_cannot_reach_the_caption_contours() -> None:
    """Max N over the plane is 0.2442 (at the cold corner), far below 0.4 and 0.48."""
    N, P = scan(VARIANTS["printed"], T_A_BOX, T_B_BOX)
    assert N.max() == pytest.approx(0.244169, abs=2e-5)  # 60 x 60 + refinement
    i, j = np.unravel_index(int(N.argmax()), N.shape)
    assert (i, j) == (0, 0)
    assert P[i, j] < 1e-30
    assert N[P >= 0.05].size == 0 or N[P >= 0.05].max() < 0.2


def test_dephasing_lowers_the_maximum() -> None:
    """gamma = 0 > caption gamma > App. F gamma at the maximum's corner."""
    ns = [
        point(VARIANTS[k], 0.05, 0.02)[0] for k in ("gamma0", "printed", "gamma_appF")
    ]
    assert ns == pytest.approx([0.246758, 0.244169, 0.213411], abs=2e-6)


def test_f3f4_reading_reaches_the_caption_contours() -> None:
    """B decoupled from its 1-2 transition: N > 0.48 at the cold corner, and N in
    0.2-0.4 at p_suc 3-5% (Sec. IV, App. F)."""
    n, _ = point(VARIANTS["F3F4"], 0.05, 0.02)
    assert n > 0.48
    n, p = point(VARIANTS["F3F4"], 20.0, 0.3)
    assert 0.2 < n < 0.4
    assert 0.03 < p < 0.05
    n_printed, p_printed = point(VARIANTS["printed"], 20.0, 0.3)
    assert n_printed < 0.14
    assert p_printed == pytest.approx(p, rel=0.15)


def test_no_entanglement_without_gradient() -> None:
    """T_A = T_B: the steady state is thermal (Gibbs), so rho' is separable."""
    assert point(VARIANTS["printed"], 0.5, 0.5)[0] == 0.0


# ---------------------------------------------------------------------- Fig. 6


@pytest.mark.parametrize("d", range(3, 9))
def test_fig6_exact_eta(d: int) -> None:
    """eta_3..eta_8 (Eqs. E4-E9) exactly, and N = eta_d."""
    lim = limit_state(d, exact=True)
    assert lim.eta == ETA[d]
    assert negativity(lim.matrix()) == pytest.approx(float(ETA[d]), rel=1e-12)


def test_fig6_d20() -> None:
    """d = 20: N = 0.492562, CHSH = 2.807468 (paper: 0.4926, 2.8075)."""
    rho = limit_state(20).matrix()
    assert round(negativity(rho), 4) == FIG6_D20["negativity"]
    assert round(chsh_max(rho), 4) == FIG6_D20["chsh"]
    assert negativity(rho) == pytest.approx(0.4925620, abs=1e-7)


# ---------------------------------------------------------------------- Fig. 7


@pytest.mark.parametrize("d", [3, 4])
@pytest.mark.parametrize(
    "gamma", [Fraction(1, 8), Fraction(1, 2), Fraction(3, 2), Fraction(3)]
)
def test_fig7_e10_points(d: int, gamma: Fraction) -> None:
    """E10 (d = 3 corrected) equals the exact limit state's negativity."""
    lim = limit_state(d, gamma, exact=True)
    assert negativity(lim.matrix()) == pytest.approx(
        float(relaxed_negativity(d, gamma)), rel=1e-12
    )


def test_fig7_printed_d3_form_is_off() -> None:
    """The printed (3 - g)/(2 + 8g) gives 5/12 at g = 1/2, not eta_3 = 3/8."""
    g = Fraction(1, 2)
    assert (3 - g) / (2 + 8 * g) == Fraction(5, 12)
    assert relaxed_negativity(3, g) == Fraction(3, 8)


# ---------------------------------------------------------------------- Fig. 8


@pytest.mark.parametrize("key", ["printed", "F3F4"])
def test_fig8_a1_same_negativity_lower_p_suc(key: str) -> None:
    """Eq. A1 (g3 = g/sqrt 2): N within 3e-3 of Eq. 3, p_suc lower (T_A = 20)."""
    v3 = VARIANTS[key]
    v1 = replace(v3, g3=CAPTION["g"] / math.sqrt(2))
    n3, p3 = point(v3, 20.0, 0.3)
    n1, p1 = point(v1, 20.0, 0.3)
    assert abs(n1 - n3) < 3e-3
    assert 0.95 * p3 < p1 < p3


FIG8_T_A = np.geomspace(0.3, 10.0, 25)  # brackets the maximum for 0.2 <= T_B <= 0.3


@pytest.mark.parametrize(
    ("key", "T_B", "N_max", "p_suc"),
    [
        ("printed", 0.2, 0.2374984, 1.58438e-4),
        ("printed", 0.3, 0.2129430, 3.45934e-3),
        ("F3F4", 0.2, 0.4763574, 1.20466e-4),
        ("F3F4", 0.3, 0.4474010, 2.74193e-3),
    ],
)
def test_fig8_maximum_over_t_a(
    key: str, T_B: float, N_max: float, p_suc: float
) -> None:
    """Max N over T_A and p_suc there (examples/fig8.py, T_B not given by the paper)."""
    _, n, p = peak(VARIANTS[key], T_B, FIG8_T_A)
    assert n == pytest.approx(N_max, rel=1e-6)
    assert p == pytest.approx(p_suc, rel=1e-4)


@pytest.mark.parametrize(
    ("key", "below", "above"), [("printed", 0.24, 0.25), ("F3F4", 0.25, 0.26)]
)
def test_fig8_p_suc_below_0p1_percent_only_for_small_t_b(
    key: str, below: float, above: float
) -> None:
    """ "N maximal at small gradient, p_suc < 0.1%": at the maximum of N over T_A,
    p_suc < 0.1% only for T_B < 0.247 (printed model) / 0.256 (F3-F4 reading)."""
    assert peak(VARIANTS[key], below, FIG8_T_A)[2] < 1e-3
    assert peak(VARIANTS[key], above, FIG8_T_A)[2] > 1e-3
