"""App. F and Sec. IV: Eqs. F1-F5, the Lindblad model of Eq. F6 (Figs. 5(b), 8).

The printed model: two qutrits of Eqs. 1-2 (eps = 3), H_int of Eq. 3 (or A1 with g3),
every local transition 01, 02, 12 of qutrit k coupled to bath k with the same Gamma_k
and Bose-Einstein rates (Eqs. F1, F5, F6), and pure dephasing gamma D[|l><l|] on the
excited levels l = 1, 2 of each qutrit (F12). Units: the first gap of A (1 GHz).

The caption of Fig. 5(b) gives (Gamma_A, Gamma_B, gamma, g, eps) = (1e-4, 5e-3,
3.5e-5, 1.6e-3, 3); App. F gives gamma = 5e-4. Neither says how g splits into g1, g2.
``VARIANTS`` lists the readings compared in ``examples/fig5b.py``; ``"F3-F4"`` is the
reading suggested by the reset-model correspondence (F3-F4): qutrit B coupled to its
bath on the 01 and 02 transitions only (Gamma_12 = 0 for B).

Eqs. F1-F5 (each pinned in ``tests/test_paper_lindblad.py``):

* ``f1_liouvillian`` writes Eq. F1 (and the dephasing of F6, F12) out with dense
  NumPy from the printed formula, independently of ``LindbladModel``; the two agree.
* Eq. F2 has a notational typo: Gamma_i^+ = Gamma_i n_B and Gamma_i^- =
  Gamma_i (1 + n_B) already contain the Bose factors (F1), so the printed
  Gamma_i^+ n_B = Gamma_i^- (1 + n_B) = p_A/3 counts them twice. Matching the
  populations of the reset model (T_A = inf) needs Gamma_i^+ = Gamma_i^- = p_A/3 on
  every transition of A (``reset_rates``); F1 reaches this only as T_A -> inf with
  Gamma_i n_B(E_i, T_A) -> p_A/3.
* Eqs. F3-F4 hold (at T_B = 0 the doubled factor 1 + n_B is 1): B relaxes 1 -> 0 and
  2 -> 0 at p_B and nothing else. The printed F6 model violates F4 (Gamma_12^- > 0).
* With these rates the correspondence is exact at the level of the generator: the
  reset model is F1 plus the pure dephasing p_A/3 D[|i><i|] (i = 0, 1, 2) on A and
  p_B D[|0><0|] on B (``reset_dephasing``), the "additional pure dephasing terms"
  of Sec. IV.
* Eq. F5 holds: Gamma^+ / Gamma^- = n_B / (1 + n_B) = exp(-E/T).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from analysis.measures import negativity
from trajectories.exact.states import herald, steady_state
from trajectories.system.machines import Machine, qutrit
from trajectories.system.models import LindbladModel

__all__ = [
    "CAPTION",
    "FIG5B_LEVELS",
    "VARIANTS",
    "Variant",
    "dissipator",
    "f1_liouvillian",
    "f1_rates",
    "f6_dephasing",
    "frontier",
    "peak",
    "point",
    "reset_dephasing",
    "reset_rates",
    "scan",
]

Rates = dict[str, dict[tuple[int, int], tuple[float, float]]]
"""Per side ("A", "B") and transition (i, j), i < j: the rates (Gamma^+, Gamma^-)."""

Dephasing = dict[str, dict[int, float]]
"""Per side ("A", "B"): {level l: rate}, the term rate D[|l><l|]."""

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


def peak(
    variant: Variant, T_B: float, T_A: Sequence[float] | None = None
) -> tuple[float, float, float]:
    """(T_A, N, p_suc) at the maximum of the negativity over T_A, at fixed T_B.

    The grid ``T_A`` (default 120 log-spaced values in [0.05, 50]) brackets the
    maximum, which is then refined by a bounded scalar search in log T_A.
    """
    from scipy.optimize import minimize_scalar

    grid = np.geomspace(0.05, 50.0, 120) if T_A is None else np.asarray(T_A)
    N = np.array([point(variant, float(ta), T_B)[0] for ta in grid])
    i = int(np.argmax(N))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    res = minimize_scalar(
        lambda x: -point(variant, math.exp(x), T_B)[0],
        bounds=(math.log(lo), math.log(hi)),
        method="bounded",
        options={"xatol": 1e-7},
    )
    ta = math.exp(res.x)
    if N[i] > -res.fun:  # the grid point is the better one (flat maximum)
        ta = float(grid[i])
    n, p = point(variant, ta, T_B)
    return ta, n, p


# ------------------------------------------------------------------ Eqs. F1-F5


def _n_B(E: float, T: float) -> float:
    """n_B(E, T) = 1/(e^{E/T} - 1) as printed below Eq. F1 (0 at T = 0)."""
    return 0.0 if T == 0 else 1.0 / (math.exp(E / T) - 1.0)


def f1_rates(
    machine: Machine,
    T_A: float,
    T_B: float,
    Gamma_A: float | dict[tuple[int, int], float],
    Gamma_B: float | dict[tuple[int, int], float],
) -> Rates:
    """Eq. F1: Gamma^+ = Gamma n_B(E_ij, T), Gamma^- = Gamma (1 + n_B(E_ij, T)).

    Every pair of levels i < j of each side, with E_ij = E_j - E_i its gap and
    Gamma (a number, or a mapping {(i, j): Gamma}, missing pairs 0) its coupling;
    0 <= T < inf.
    """
    out: Rates = {}
    for side, E, T, Gamma in (
        ("A", machine.energies_A, T_A, Gamma_A),
        ("B", machine.energies_B, T_B, Gamma_B),
    ):
        out[side] = {}
        for i in range(len(E)):
            for j in range(i + 1, len(E)):
                G = Gamma.get((i, j), 0.0) if isinstance(Gamma, dict) else Gamma
                n = _n_B(E[j] - E[i], T)
                out[side][(i, j)] = (G * n, G * (1 + n))
    return out


def f6_dephasing(gamma: float, dims: tuple[int, int] = (3, 3)) -> Dephasing:
    """Eqs. F6, F12: gamma D[|l><l|] on every excited level l >= 1 of A and of B."""
    d_A, d_B = dims
    return {
        "A": dict.fromkeys(range(1, d_A), gamma),
        "B": dict.fromkeys(range(1, d_B), gamma),
    }


def reset_rates(p_A: float, p_B: float, dims: tuple[int, int] = (3, 3)) -> Rates:
    """Eqs. F2-F4 (F2 corrected): the F1 rates whose populations follow the reset
    model at T_A = inf, T_B = 0.

    A: Gamma^+ = Gamma^- = p_A / d_A on every transition (F2: p_A/3 for a qutrit).
    B: Gamma_0j^- = p_B (F3), every other rate 0 (F4).
    """
    d_A, d_B = dims
    A = {(i, j): (p_A / d_A, p_A / d_A) for i in range(d_A) for j in range(i + 1, d_A)}
    B = {
        (i, j): (0.0, p_B if i == 0 else 0.0)
        for i in range(d_B)
        for j in range(i + 1, d_B)
    }
    return {"A": A, "B": B}


def reset_dephasing(
    p_A: float, p_B: float, dims: tuple[int, int] = (3, 3)
) -> Dephasing:
    """The pure dephasing that completes F1 with ``reset_rates`` into the reset model:
    p_A / d_A D[|i><i|] on every level of A and p_B D[|0><0|] on B (the diagonal
    Kraus jumps of the resets; Sec. IV's "additional pure dephasing terms")."""
    d_A, _ = dims
    return {"A": dict.fromkeys(range(d_A), p_A / d_A), "B": {0: p_B}}


def dissipator(A: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """D[A] rho = A rho A^dag - {A^dag A, rho}/2 (Eq. F1) as an (n^2, n^2) matrix
    acting on vec(rho), column stacking (vec(X rho Y) = (Y^T (x) X) vec(rho))."""
    A = np.asarray(A, dtype=complex)
    n = A.shape[0]
    AdA = A.conj().T @ A
    one = np.eye(n)
    return np.kron(A.conj(), A) - 0.5 * (np.kron(one, AdA) + np.kron(AdA.T, one))


def f1_liouvillian(
    machine: Machine,
    rates: Rates,
    dephasing: Dephasing | None = None,
    *,
    interaction_picture: bool = True,
) -> NDArray[np.complex128]:
    """Eq. F1 written out: -i[H, rho] + sum Gamma^+ D[A^+] + Gamma^- D[A^-] (+ F12).

    The jump operators are those of Eqs. F9-F11, sigma_ij^+ = |j><i| and
    sigma_ij^- = |i><j| on one side, tensored with the identity on the other;
    ``dephasing`` adds rate D[|l><l|] (Eq. F12 for F6). H is H_int alone
    (``interaction_picture``) or H_A + H_B + H_int. Dense (D^2, D^2), column
    stacking (as ``LindbladModel.liouvillian``).
    """
    d_A, d_B = machine.dims
    D = d_A * d_B
    H = machine.hamiltonian(interaction_picture)
    one = np.eye(D)
    L = -1j * (np.kron(one, H) - np.kron(H.T, one))

    def local(op: NDArray[np.complex128], side: str) -> NDArray[np.complex128]:
        return np.kron(op, np.eye(d_B)) if side == "A" else np.kron(np.eye(d_A), op)

    for side, d in (("A", d_A), ("B", d_B)):
        e = np.eye(d)
        for (i, j), (up, down) in rates.get(side, {}).items():
            sigma_plus = np.outer(e[j], e[i])  # |j><i|, Eqs. F9-F11
            L += up * dissipator(local(sigma_plus, side))
            L += down * dissipator(local(sigma_plus.T, side))
        for lvl, rate in (dephasing or {}).get(side, {}).items():
            L += rate * dissipator(local(np.outer(e[lvl], e[lvl]), side))
    return L
