"""The Machine type: two local systems, their levels and an energy-conserving
interaction.

A machine is the pair of local spectra (H_A, H_B diagonal, Eqs. 1-2, 9) and a list of
transitions ``coupling |a, b><a', b'| + h.c.`` (Eqs. 3, 10, A1, D4, E1, G5), checked to
satisfy ``[H_int, H_A + H_B] = 0``, with its default filter (Eq. 5) and target state in
the relabelled basis of ``filters.py``. The machines of the paper are in
``machines.py``.

``Machine.from_qutip(H_A, H_B, H_int, filter_A=..., filter_B=...)`` builds one from
QuTiP operators (or arrays) and ``Machine.to_qutip()`` gives them back: the local
Hamiltonians must be diagonal (they are not diagonalised, so that states stay in the
basis the operators were written in), every nonzero entry <a, b|H_int|a', b'> above
the diagonal becomes a transition, and the filters are diagonal 0/1 projectors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trajectories.system.checks import check_sequence, check_unit_vector, is_integer
from trajectories.system.filters import FILTER_TOL, Filter, check_filter
from trajectories.system.qobj import from_qobj, local_operator, to_qobj

if TYPE_CHECKING:
    from qutip import Qobj

ENERGY_TOL = 1e-9
"""Relative tolerance of the energy-conservation check ``[H_int, H_0] = 0``."""


@dataclass(frozen=True)
class Transition:
    """One interaction term ``coupling |ket><bra| + h.c.`` with ket, bra = (a, b)."""

    ket: tuple[int, int]
    bra: tuple[int, int]
    coupling: complex


def _check_energies(energies: Sequence[float], name: str) -> tuple[float, ...]:
    try:
        E = tuple(float(e) for e in energies)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}={energies!r} must be a sequence of >= 2 finite numbers"
        ) from None
    if len(E) < 2:
        raise ValueError(f"{name} has {len(E)} levels; a local system needs >= 2")
    if not all(math.isfinite(e) for e in E):
        raise ValueError(f"{name}={E} must be finite numbers (no NaN or Inf)")
    return E


@dataclass(frozen=True, eq=False)
class Machine:
    """Two local systems A, B with level energies and interaction transitions.

    Parameters
    ----------
    energies_A, energies_B
        Level energies of each local system (units of the first gap of A).
    transitions
        Interaction terms; each must conserve H_A + H_B.
    filter
        Default local filter (Eq. 5); ``None`` keeps everything.
    target
        Target pure state in the relabelled filtered subspace, or ``None``.
    name, params
        Preset name and the parameters it was built from (for reports).
    """

    energies_A: tuple[float, ...]
    energies_B: tuple[float, ...]
    transitions: tuple[Transition, ...]
    filter: Filter | None = None
    target: NDArray[np.complex128] | None = None
    name: str = "custom"
    params: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        EA = _check_energies(self.energies_A, "energies_A")
        EB = _check_energies(self.energies_B, "energies_B")
        object.__setattr__(self, "energies_A", EA)
        object.__setattr__(self, "energies_B", EB)
        transitions = check_sequence(self.transitions, "transitions")
        object.__setattr__(self, "transitions", transitions)
        for t in self.transitions:
            self._check_transition(t)
        self._check_energy_conservation()
        check_filter(self.filter, "filter", none_ok=True)
        if self.filter is None:
            object.__setattr__(self, "filter", Filter(np.eye(len(EA)), np.eye(len(EB))))
        self.filter.check_dims(self.dims)
        if self.target is not None:
            kept = self.filter.kept_dims
            object.__setattr__(self, "target", _check_target(self.target, kept))

    def _check_transition(self, t: Transition) -> None:
        if not isinstance(t, Transition):
            raise ValueError(f"transitions must be Transition objects, got {t!r}")
        for label, pair in (("ket", t.ket), ("bra", t.bra)):
            if (
                not isinstance(pair, (tuple, list))
                or len(pair) != 2
                or not all(is_integer(x) for x in pair)
            ):
                raise ValueError(
                    f"transition {label}={pair!r} must be a pair (a, b) of integer "
                    "levels"
                )
            a, b = pair
            if not (0 <= a < self.dims[0] and 0 <= b < self.dims[1]):
                raise ValueError(
                    f"transition {label}={(a, b)} is outside the levels "
                    f"0..{self.dims[0] - 1} x 0..{self.dims[1] - 1}"
                )
        try:
            coupling = complex(t.coupling)
        except (TypeError, ValueError):
            raise ValueError(
                f"coupling={t.coupling!r} of {t.ket}<->{t.bra} must be a finite number"
            ) from None
        if not np.isfinite(coupling):
            raise ValueError(
                f"coupling={t.coupling} of {t.ket}<->{t.bra} must be a finite number"
            )
        if t.ket == t.bra:
            raise ValueError(f"transition {t.ket}<->{t.bra} must connect two levels")

    def _check_energy_conservation(self) -> None:
        H0, Hint = self.free_hamiltonian(), self.interaction_hamiltonian()
        comm = np.linalg.norm(Hint @ H0 - H0 @ Hint)
        scale = max(1.0, np.linalg.norm(H0)) * max(1.0, np.linalg.norm(Hint))
        if comm <= ENERGY_TOL * scale:
            return
        E0 = np.diag(H0).real
        bad = [
            f"{t.ket}<->{t.bra} (energies {E0[self.index(*t.ket)]:.6g} vs "
            f"{E0[self.index(*t.bra)]:.6g})"
            for t in self.transitions
            if abs(E0[self.index(*t.ket)] - E0[self.index(*t.bra)]) > ENERGY_TOL
            and t.coupling != 0
        ]
        raise ValueError(
            f"the interaction does not conserve energy, ||[H_int, H_A + H_B]|| = "
            f"{comm:.3g} > {ENERGY_TOL:g}: non-resonant transitions {', '.join(bad)}"
        )

    @property
    def dims(self) -> tuple[int, int]:
        """Local dimensions (d_A, d_B)."""
        return len(self.energies_A), len(self.energies_B)

    @property
    def dim(self) -> int:
        """Joint dimension D = d_A d_B."""
        return self.dims[0] * self.dims[1]

    def index(self, a: int, b: int) -> int:
        """Flat index of |a, b> (``a * d_B + b``)."""
        return a * self.dims[1] + b

    def free_hamiltonian(self) -> NDArray[np.complex128]:
        """H_A + H_B (Eqs. 1-2, 9) as a (D, D) diagonal matrix."""
        EA, EB = np.array(self.energies_A), np.array(self.energies_B)
        return np.diag(np.add.outer(EA, EB).ravel()).astype(complex)

    def interaction_hamiltonian(self) -> NDArray[np.complex128]:
        """H_int = sum_t g_t |ket><bra| + h.c. (Eqs. 3, 10, A1, D4, E1, G5), (D, D)."""
        H = np.zeros((self.dim, self.dim), dtype=complex)
        for t in self.transitions:
            i, j = self.index(*t.ket), self.index(*t.bra)
            H[i, j] += t.coupling
            H[j, i] += np.conj(t.coupling)
        return H

    def hamiltonian(self, interaction_picture: bool = False) -> NDArray[np.complex128]:
        """H = H_A + H_B + H_int, or H_int alone in the interaction picture."""
        Hint = self.interaction_hamiltonian()
        return Hint if interaction_picture else self.free_hamiltonian() + Hint

    @classmethod
    def from_qutip(
        cls,
        H_A: Qobj | ArrayLike,
        H_B: Qobj | ArrayLike,
        H_int: Qobj | ArrayLike,
        *,
        filter_A: Qobj | ArrayLike | None = None,
        filter_B: Qobj | ArrayLike | None = None,
        target: Qobj | ArrayLike | None = None,
        name: str = "qutip",
    ) -> Machine:
        """The machine of local Hamiltonians H_A, H_B (diagonal: their diagonals are
        the level energies, Eqs. 1-2, 9), the interaction H_int (dims [[d_A, d_B],
        [d_A, d_B]], Hermitian, zero diagonal, [H_A + H_B, H_int] = 0: Eqs. 3, 10) and
        the local filters Pi_A, Pi_B (diagonal 0/1 projectors, Eq. 5; None keeps the
        side whole); ``target``: a ket of the filtered subspace (dims [[k_A, k_B],
        [1]]). Qobjs or arrays; ValueError naming the operator otherwise.
        """
        EA, EB = _energies_of(H_A, "H_A"), _energies_of(H_B, "H_B")
        dims = (len(EA), len(EB))
        H = np.asarray(from_qobj(H_int, dims, "H_int", "oper"), dtype=complex)
        D = dims[0] * dims[1]
        if H.shape != (D, D):
            raise ValueError(f"H_int has shape {H.shape}; expected ({D}, {D})")
        filt = Filter(
            _level_filter(filter_A, dims[0], "filter_A"),
            _level_filter(filter_B, dims[1], "filter_B"),
        )
        if target is not None:
            target = from_qobj(target, filt.kept_dims, "target", "ket")
        transitions = _transitions_of(H, dims)
        return cls(EA, EB, transitions, filt, target, name, {"source": "qutip"})

    def to_qutip(self) -> dict[str, Any]:
        """H_A, H_B, H_int, filter_A, filter_B and target as Qobjs (the arguments of
        ``Machine.from_qutip``; target None without one)."""
        d_A, d_B = self.dims
        kept = self.filter.kept_dims
        return {
            "H_A": to_qobj(np.diag(self.energies_A), [d_A]),
            "H_B": to_qobj(np.diag(self.energies_B), [d_B]),
            "H_int": to_qobj(self.interaction_hamiltonian(), self.dims),
            "filter_A": to_qobj(self.filter.pi_A, [d_A]),
            "filter_B": to_qobj(self.filter.pi_B, [d_B]),
            "target": None if self.target is None else to_qobj(self.target, kept),
        }

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v}" for k, v in self.params.items())
        n = len(self.transitions)
        return f"Machine({self.name}: dims={self.dims}, {n} transitions, {p})"


def _check_target(target: object, kept_dims: tuple[int, int]) -> NDArray[np.complex128]:
    """The target as a unit vector of the filtered subspace (k_A k_B,); a Qobj ket
    with dims [[k_A, k_B], [1]]."""
    size = kept_dims[0] * kept_dims[1]
    target = from_qobj(target, kept_dims, "target", "ket")
    try:
        psi = np.asarray(target, dtype=complex).ravel()
    except (TypeError, ValueError):
        raise ValueError(
            f"target={target!r} must be a unit vector of length {size} (the filtered "
            "subspace)"
        ) from None
    if psi.size != size:
        raise ValueError(
            f"target must be a unit vector of length {size} (the filtered subspace), "
            f"got length {psi.size}"
        )
    if not np.all(np.isfinite(psi)):
        raise ValueError(f"target={psi} contains NaN or Inf")
    check_unit_vector(psi, "target")
    return psi


def _energies_of(H: object, name: str) -> tuple[float, ...]:
    """The level energies of a diagonal local Hamiltonian (its real diagonal)."""
    M = local_operator(H, name)
    scale = ENERGY_TOL * max(1.0, float(np.abs(M).max()))
    off = float(np.abs(M - np.diag(np.diag(M))).max())
    if off > scale:
        raise ValueError(
            f"{name} is not diagonal (max off-diagonal |H_ij| = {off:.3g}): write it "
            "in its eigenbasis, the basis of the machine's levels"
        )
    if np.abs(np.diag(M).imag).max() > scale:
        raise ValueError(f"{name} has a complex diagonal; it must be Hermitian")
    return _check_energies(np.diag(M).real, name)


def _transitions_of(H: NDArray[np.complex128], dims: tuple[int, int]) -> list:
    """One ``Transition`` per nonzero entry of H_int above the diagonal."""
    scale = ENERGY_TOL * max(1.0, float(np.abs(H).max()))
    herm = float(np.abs(H - H.conj().T).max())
    if herm > scale:
        raise ValueError(f"H_int is not Hermitian, max |H - H^dag| = {herm:.3g}")
    diag = float(np.abs(np.diag(H)).max())
    if diag > scale:
        raise ValueError(
            f"H_int has diagonal entries (max |<a,b|H_int|a,b>| = {diag:.3g}): level "
            "shifts belong in H_A, H_B; H_int may only couple distinct levels"
        )
    d_B = dims[1]
    i, j = np.nonzero(np.triu(H, k=1))
    return [
        Transition(
            (int(r // d_B), int(r % d_B)),
            (int(c // d_B), int(c % d_B)),
            complex(H[r, c]),
        )
        for r, c in zip(i, j, strict=True)
    ]


def _level_filter(P: object, d: int, name: str) -> NDArray[np.complex128]:
    """A local filter given as a diagonal 0/1 projector (the identity for None)."""
    if P is None:
        return np.eye(d, dtype=complex)
    M = local_operator(P, name, d)
    if M.shape != (d, d):
        raise ValueError(f"{name} has shape {M.shape}; the system has {d} levels")
    diag = np.diag(M)
    if (
        np.abs(M - np.diag(diag)).max() > FILTER_TOL
        or np.abs(diag - np.round(diag.real)).max() > FILTER_TOL
        or not set(np.round(diag.real)) <= {0.0, 1.0}
    ):
        raise ValueError(
            f"{name} must be a diagonal projector with 0/1 on the diagonal (it keeps "
            f"whole levels), got diagonal {np.round(diag.real, 6).tolist()}"
        )
    return M
