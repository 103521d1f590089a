"""Closed forms of the qudit machine: Eq. 12 and App. C (C2-C12).

Notation of Sec. III: two (d+1)-level systems, H_int of Eq. 10 with every coupling
g_k = g/sqrt(2) (as ``machines.qudit(d, g)``), reset model (Eq. 4) at T_A = inf,
T_B = 0, filters Pi_A = 1 - |d><d|, Pi_B = 1 - |0><0| (Eq. C10). Full matrices use the
basis |a,b>, flat index a (d+1) + b; filtered matrices the relabelled basis (kept
levels renumbered 0..d-1, so original |k, d-k> is relabelled |k, d-1-k>).

Typos and conventions of the paper corrected here (each pinned in
``tests/test_paper_qudit.py``):

* Eq. 12 is written with d the *local* dimension, i.e. d+1 in the notation of
  Eqs. 9-11 (hence "agrees with (8) for d = 3": the qutrit machine). In the notation
  of Sec. III, p_suc = d g^2 p_A (d p_A + (d+1) p_B) /
  ((d+1)^2 (g^2 xi + p_A p_B (p_A + p_B)^2)), xi = 2d p_A p_B + d p_B^2 + p_A^2.
* Eqs. C2-C3 are the exact steady state when every g_k = g, not g/sqrt(2) as
  Sec. III sets: with the g of Sec. III, replace g by g/sqrt(2) (2 g^2 -> g^2,
  c_3 -> i (d+1) g p_A p_B (p_A + p_B)/sqrt(2)). They also hold for d = 2. The
  same holds for every later equation of App. C (C4-C9 use the coupling of C2).
* Eqs. C4-C5 (the partial traces of C2) hold.
* Eq. C6 (the reset dissipator of C1 applied to C2) is right except for its last
  sum: the coherences between the states |k, d-k> of C2 carry kets
  |k+l-1, d-k-l><k-1, d-k| whose B index is one too low (they are not states of the
  chain), and the ranges k <= d-2, l <= d-1-k omit every coherence with |d-1, 1>
  (for d = 2 the sum is empty). The sum is C2's: every pair of chain states.
* Eq. C7 ([rho, H_int] for C2) lacks the overall 1/N of C2 (C6 has it); with it, it
  holds.
* Eqs. C8-C9 hold as identities in (g, p_A, p_B), and they are the (|d,0>, |k,d-k>)
  and (|d,0>, |d,0>) entries of C1; the (chain, chain) entries are C9 divided by d,
  and every other entry of C6 and C7 vanishes.
* Eq. C10 (the filters) is the filter of Sec. III, 1 - |d><d| and 1 - |0><0|.
* Eq. C11 is wrong: its coherences carry 2 d g i p_A p_B (the matrix is then not
  Hermitian) instead of the 2 (d+1) g^2 p_A p_B of C2, their sums (k <= d-2,
  l <= d-k-1) omit every coherence with original |d-1, 1>, and their kets are in
  relabelled labels while the populations are in original ones. The filtered state
  is the isotropic state of ``filtered_state``; it does not depend on g.
* Eq. C12 holds: 1 - <S_d|rho'|S_d> = (d-1)/d p_A/p_B + O((p_A/p_B)^2).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "coefficients",
    "commutator_term",
    "deficit_coefficient",
    "dissipator_term",
    "fidelity_deficit",
    "filtered_state",
    "filters",
    "maximally_entangled_state",
    "reduced_states",
    "steady_state",
    "success_probability",
    "verification_equations",
]


def _check_d(d: int) -> int:
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d={d!r} must be an integer >= 2")
    return int(d)


def success_probability(
    d: int, g: ArrayLike, p_A: ArrayLike, p_B: ArrayLike
) -> float | NDArray[np.float64]:
    """Eq. 12 (corrected: printed d -> d+1): p_suc of the qudit machine.

    Parameters
    ----------
    d
        Filtered dimension (two (d+1)-level systems), d >= 2.
    g, p_A, p_B
        Coupling (g_k = g/sqrt(2)) and reset rates; broadcast as NumPy arrays.
    """
    n = _check_d(d) + 1  # the d of the printed Eq. 12
    g, p_A, p_B = (np.asarray(x, dtype=float) for x in (g, p_A, p_B))
    xi = 2 * (n - 1) * p_A * p_B + (n - 1) * p_B**2 + p_A**2
    out = (
        (n - 1)
        * g**2
        * p_A
        * ((n - 1) * p_A + n * p_B)
        / (n**2 * (g**2 * xi + p_A * p_B * (p_A + p_B) ** 2))
    )
    return float(out) if out.ndim == 0 else out


def coefficients(d: int, g: float, p_A: float, p_B: float) -> dict[str, complex]:
    """Eq. C3 (with the App. C coupling g/sqrt(2)): c_1, c_2, c_3 and N.

    Also returns ``"w"`` = 2 (d+1) g_k^2 p_A p_B, the weight of every population and
    coherence of the chain |k, d-k> in C2, and ``"gk"`` = g/sqrt(2), the coupling
    that App. C calls g. Eq. C3 as printed is ``coefficients(d, sqrt(2) g, ...)``.

    Examples
    --------
    >>> c = coefficients(3, 2**0.5, 1.0, 1.0)  # App. C's g = 1
    >>> c["c3"], c["N"]
    (8j, 384.0)
    """
    d = _check_d(d)
    gc = g / math.sqrt(2)  # the g of App. C is the common coupling g_k
    D = d + 1
    s = p_A + p_B
    return {
        "c1": D * p_A * p_B * s**2
        + 2 * gc**2 * (D**2 * p_B**2 + 2 * d * D * p_A * p_B),
        "c2": p_A * (D * p_B * s**2 + 2 * D * gc**2 * d * p_B),
        "c3": 1j * D * gc * p_A * p_B * s,
        "N": D**2
        * (p_A * p_B * s**2 + 2 * gc**2 * (p_A**2 + 2 * d * p_A * p_B + d * p_B**2)),
        "w": 2 * D * gc**2 * p_A * p_B,
        "gk": gc,
    }


def _chain(d: int) -> list[int]:
    """Flat indices of |k, d-k>, k = 0..d-1 (the states H_int couples to |d, 0>)."""
    return [k * (d + 1) + (d - k) for k in range(d)]


def steady_state(d: int, g: float, p_A: float, p_B: float) -> NDArray[np.complex128]:
    """Eqs. C2-C3 (corrected: printed g -> g/sqrt(2)): the full steady state.

    Returns
    -------
    ((d+1)^2, (d+1)^2) complex array in the basis |a,b>, flat index a (d+1) + b.
    Eqs. C2-C3 as printed are ``steady_state(d, sqrt(2) g, p_A, p_B)``.
    """
    d = _check_d(d)
    c = coefficients(d, g, p_A, p_B)
    D = d + 1

    def idx(a: int, b: int) -> int:
        return a * D + b

    rho = np.eye(D * D, dtype=complex) * (2 * c["gk"] ** 2 * p_A**2)
    for k in range(d):
        rho[idx(k, 0), idx(k, 0)] += c["c1"]
    rho[idx(d, 0), idx(d, 0)] += c["c2"]
    chain = _chain(d)
    rho[np.ix_(chain, chain)] += c["w"]
    rho[idx(d, 0), chain] += c["c3"]
    rho[chain, idx(d, 0)] += np.conj(c["c3"])
    return rho / c["N"]


def reduced_states(
    d: int, g: float, p_A: float, p_B: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Eqs. C4-C5: the partial traces (Tr_A rho, Tr_B rho) of the steady state C2.

    Both are diagonal; returned as ((d+1, d+1), (d+1, d+1)) real arrays. Tr_A rho (a
    state of B) has 2 (d+1) g_k^2 p_A^2 on every level, plus d c_1 + c_2 on |0> and
    2 (d+1) g_k^2 p_A p_B on |1>..|d>; Tr_B rho (a state of A) has 2 (d+1) g_k^2 p_A^2
    on every level, plus c_1 + 2 (d+1) g_k^2 p_A p_B on |0>..|d-1> and c_2 on |d>; all
    over N (g_k = g/sqrt(2), the g of App. C).
    """
    d = _check_d(d)
    c = coefficients(d, g, p_A, p_B)
    base = 2 * (d + 1) * c["gk"] ** 2 * p_A**2
    tr_A = np.full(d + 1, base)
    tr_A[0] += d * c["c1"].real + c["c2"].real
    tr_A[1:] += c["w"].real
    tr_B = np.full(d + 1, base)
    tr_B[:d] += c["c1"].real + c["w"].real
    tr_B[d] += c["c2"].real
    N = c["N"].real
    return np.diag(tr_A / N), np.diag(tr_B / N)


def dissipator_term(d: int, g: float, p_A: float, p_B: float) -> NDArray[np.complex128]:
    """Eq. C6 (corrected): the reset terms of C1 applied to the steady state C2.

    p_A (1/(d+1) (x) Tr_A rho - rho) + p_B (Tr_B rho (x) |0><0| - rho) =
    -(p_A + p_B)/N [-d w |d,0><d,0| + w sum_{j,j'} |j,d-j><j',d-j'|
    + c_3 sum_j |d,0><j,d-j| + c_3^* sum_j |j,d-j><d,0|], j, j' = 0..d-1, with
    w = 2 (d+1) g_k^2 p_A p_B. As printed, the coherences of the double sum (j != j')
    have wrong kets and miss those with |d-1, 1> (module docstring).
    """
    d = _check_d(d)
    c = coefficients(d, g, p_A, p_B)
    D = d + 1
    top, chain = d * D, _chain(d)  # |d, 0> and the chain
    M = np.zeros((D * D, D * D), dtype=complex)
    M[top, top] = -d * c["w"]
    M[np.ix_(chain, chain)] = c["w"]
    M[top, chain] = c["c3"]
    M[chain, top] = np.conj(c["c3"])
    return -(p_A + p_B) * M / c["N"]


def commutator_term(d: int, g: float, p_A: float, p_B: float) -> NDArray[np.complex128]:
    """Eq. C7 (corrected: with the 1/N of C2): [rho, H_int] for the steady state C2.

    (1/N) [sum_k (c_2 g_k - 2 d (d+1) g_k^3 p_A p_B) (|d,0><k,d-k| - h.c.)
    + 2 i d g_k Im(c_3) |d,0><d,0| - 2 i g_k Im(c_3) sum_{k,l} |k,d-k><l,d-l|],
    g_k = g/sqrt(2) (the g of App. C). As printed the 1/N is missing.
    """
    d = _check_d(d)
    c = coefficients(d, g, p_A, p_B)
    gk, D = c["gk"], d + 1
    top, chain = d * D, _chain(d)
    a = c["c2"] * gk - 2 * d * D * gk**3 * p_A * p_B
    M = np.zeros((D * D, D * D), dtype=complex)
    M[top, chain] = a
    M[chain, top] = -a
    M[top, top] = 2j * d * gk * c["c3"].imag
    M[np.ix_(chain, chain)] = -2j * gk * c["c3"].imag
    return M / c["N"]


def verification_equations(
    d: int, g: float, p_A: float, p_B: float
) -> dict[str, tuple[complex, complex]]:
    """Eqs. C8-C9: their (left, right) sides, equal for every (g, p_A, p_B).

    C8: i (g_k c_2 - 2 d (d+1) g_k^3 p_A p_B) = c_3 (p_A + p_B);
    C9: i (2 d g_k i Im(c_3)) = -2 d (d+1) g_k^2 p_A p_B (p_A + p_B); g_k = g/sqrt(2).
    Times 1/N, the left sides are the (|d,0>, |k,d-k>) and (|d,0>, |d,0>) entries of
    i [rho, H_int] and the right sides minus those of the reset terms (C6, C7).
    """
    d = _check_d(d)
    c = coefficients(d, g, p_A, p_B)
    gk, s = c["gk"], p_A + p_B
    return {
        "C8": (
            1j * (gk * c["c2"] - 2 * d * (d + 1) * gk**3 * p_A * p_B),
            c["c3"] * s,
        ),
        "C9": (
            1j * (2 * d * gk * 1j * c["c3"].imag),
            -2 * d * (d + 1) * gk**2 * p_A * p_B * s,
        ),
    }


def filters(d: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Eq. C10: the local projectors Pi_A = sum_{k<d} |k><k|, Pi_B = sum_{l>=1} |l><l|.

    Returns ((d+1, d+1), (d+1, d+1)) real arrays (Sec. III: 1 - |d><d|, 1 - |0><0|).
    """
    d = _check_d(d)
    pi_A = np.diag([1.0] * d + [0.0])
    pi_B = np.diag([0.0] + [1.0] * d)
    return pi_A, pi_B


def maximally_entangled_state(d: int) -> NDArray[np.complex128]:
    """Eq. 11: |S_d> = sum_k |k-1, d-k> / sqrt(d), in the relabelled basis (d^2,)."""
    d = _check_d(d)
    psi = np.zeros(d * d, dtype=complex)
    psi[[a * d + (d - 1 - a) for a in range(d)]] = 1 / math.sqrt(d)
    return psi


def filtered_state(d: int, p_A: float, p_B: float) -> NDArray[np.complex128]:
    """Eq. C11 (corrected): the filtered state rho' in the relabelled basis.

    rho' = (p_A 1 + d (d+1) p_B |S_d><S_d|) / (d (d p_A + (d+1) p_B)), i.e. the
    normalised filter of C2: populations 2 g^2 p_A^2 on all d^2 kept states, plus
    2 (d+1) g^2 p_A p_B on every |k, d-k> and on every coherence between them
    (App. C coupling g). Independent of g.
    """
    d = _check_d(d)
    psi = maximally_entangled_state(d)
    rho = p_A * np.eye(d * d) + d * (d + 1) * p_B * np.outer(psi, psi.conj())
    return rho / (d * (d * p_A + (d + 1) * p_B))


def fidelity_deficit(
    d: int, p_A: ArrayLike, p_B: ArrayLike
) -> float | NDArray[np.float64]:
    """Eq. C12, exactly: 1 - <S_d|rho'|S_d> = (d^2-1) p_A / (d (d p_A + (d+1) p_B))."""
    d = _check_d(d)
    p_A, p_B = (np.asarray(x, dtype=float) for x in (p_A, p_B))
    out = (d * d - 1) * p_A / (d * (d * p_A + (d + 1) * p_B))
    return float(out) if out.ndim == 0 else out


def deficit_coefficient(d: int) -> float:
    """Eq. C12: the coefficient (d-1)/d of 1 - F = (d-1)/d p_A/p_B + O((p_A/p_B)^2)."""
    d = _check_d(d)
    return (d - 1) / d
