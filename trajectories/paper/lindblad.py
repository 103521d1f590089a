"""App. F and Sec. IV: the Lindblad model of Eq. F6 (Figs. 5(b), 8) and its readings.

The printed model: two qutrits of Eqs. 1-2 (eps = 3), H_int of Eq. 3 (or A1 with g3),
every local transition 01, 02, 12 of qutrit k coupled to bath k with the same Gamma_k
and Bose-Einstein rates (Eqs. F1, F5, F6), and pure dephasing gamma D[|l><l|] on the
excited levels l = 1, 2 of each qutrit (F12). Units: the first gap of A (1 GHz).

The caption of Fig. 5(b) gives (Gamma_A, Gamma_B, gamma, g, eps) = (1e-4, 5e-3,
3.5e-5, 1.6e-3, 3); App. F gives gamma = 5e-4. Neither says how g splits into g1, g2.
``VARIANTS`` lists the readings compared in ``examples/fig5b.py``; ``"F3-F4"`` is the
reading suggested by the reset-model correspondence (F3-F4): qutrit B coupled to its
bath on the 01 and 02 transitions only (Gamma_12 = 0 for B).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from analysis.measures import negativity
from trajectories.exact import herald, steady_state
from trajectories.machines import qutrit
from trajectories.models import LindbladModel

__all__ = [
    "CAPTION",
    "FIG5B_LEVELS",
    "VARIANTS",
    "Variant",
    "frontier",
    "point",
    "scan",
]

CAPTION = {"Gamma_A": 1e-4, "Gamma_B": 5e-3, "gamma": 3.5e-5, "g": 1.6e-3, "eps": 3.0}
"""The parameters of the caption of Fig. 5(b) (units of 1 GHz)."""

GAMMA_APP_F = 5e-4
"""The pure dephasing rate of the text of App. F ("5e-4 GHz")."""

FIG5B_LEVELS = (1e-5, 0.2, 0.4, 0.48)
"""The contour levels of Fig. 5(b)."""


@dataclass(frozen=True)
class Variant:
    """One reading of the model of Eq. F6 (default: the caption, g1 = g2 = g/sqrt 2)."""

    label: str
    gamma: float = CAPTION["gamma"]
    g1: float = CAPTION["g"] / math.sqrt(2)
    g2: float = CAPTION["g"] / math.sqrt(2)
    g3: float = 0.0
    Gamma_A: float = CAPTION["Gamma_A"]
    Gamma_B: float = CAPTION["Gamma_B"]
    B_transitions: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2))
    eps: float = CAPTION["eps"]
    note: str = field(default="", compare=False)

    def model(self, T_A: float, T_B: float) -> LindbladModel:
        """The Lindblad model (Eqs. F1, F6, F12) of this reading at (T_A, T_B)."""
        g = math.hypot(self.g1, self.g2)
        machine = qutrit(
            g=g, theta=math.atan2(self.g2, self.g1), eps=self.eps, g3=self.g3
        )
        gamma_B = {
            p: (self.Gamma_B if p in self.B_transitions else 0.0)
            for p in ((0, 1), (0, 2), (1, 2))
        }
        return LindbladModel(
            machine,
            T_A=T_A,
            T_B=T_B,
            Gamma_A=self.Gamma_A,
            Gamma_B=gamma_B,
            dephasing=self.gamma,
        )


_G = CAPTION["g"]
_S2 = math.sqrt(2)
VARIANTS: dict[str, Variant] = {
    "printed": Variant(
        "caption: gamma=3.5e-5, g1=g2=g/sqrt2",
        note="the model of Eq. F6 with the caption's parameters",
    ),
    "gamma_appF": Variant("gamma=5e-4 (App. F)", gamma=GAMMA_APP_F),
    "gamma0": Variant("gamma=0", gamma=0.0),
    "g1g2_g": Variant("g1=g2=g", g1=_G, g2=_G),
    "pauli": Variant(
        "D[sigma_z] = 4 D[P]: gamma=1.4e-4",
        gamma=4 * CAPTION["gamma"],
        note="sigma_z = diag(1, -1) on a two-level reading of F12",
    ),
    "g_2pi": Variant(
        "g x 2pi (angular units)", g1=2 * math.pi * _G / _S2, g2=2 * math.pi * _G / _S2
    ),
    "F3F4": Variant(
        "B on 01, 02 only (F3-F4)",
        B_transitions=((0, 1), (0, 2)),
        note="Gamma_12 = 0 for qutrit B, as in the reset correspondence F3-F4",
    ),
    "F3F4_appF": Variant(
        "B on 01, 02 only, gamma=5e-4",
        B_transitions=((0, 1), (0, 2)),
        gamma=GAMMA_APP_F,
    ),
    "F3F4_g": Variant(
        "B on 01, 02 only, g1=g2=g", B_transitions=((0, 1), (0, 2)), g1=_G, g2=_G
    ),
}


def point(variant: Variant, T_A: float, T_B: float) -> tuple[float, float]:
    """(negativity of rho', p_suc) of the exact steady state at (T_A, T_B), Eq. 5."""
    model = variant.model(T_A, T_B)
    h = herald(steady_state(model), model.machine.filter)
    return negativity(h.rho_post), float(h.p_suc)


def scan(
    variant: Variant, T_A: Sequence[float], T_B: Sequence[float]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Negativity and p_suc on the grid T_A x T_B, arrays (len(T_A), len(T_B))."""
    N = np.empty((len(T_A), len(T_B)))
    P = np.empty_like(N)
    for i, ta in enumerate(T_A):
        for j, tb in enumerate(T_B):
            N[i, j], P[i, j] = point(variant, float(ta), float(tb))
    return N, P


def frontier(N: NDArray[np.float64], P: NDArray[np.float64], p_min: float) -> float:
    """The largest negativity on the grid at points with p_suc >= p_min (0 if none)."""
    mask = P >= p_min
    return float(N[mask].max()) if mask.any() else 0.0
