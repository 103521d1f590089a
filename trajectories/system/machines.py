"""Thermal machines: two local systems, their levels, an energy-conserving interaction.

A machine is the pair of local spectra (H_A, H_B diagonal, Eqs. 1-2, 9) and a list of
transitions ``coupling |a, b><a', b'| + h.c.`` (Eqs. 3, 10, A1, D4, E1, G5), checked to
satisfy ``[H_int, H_A + H_B] = 0``. Presets carry their default filter (Eqs. 5, C10, E2,
App. G) and target state (Eqs. 7, 11, D5) in the relabelled basis of ``filters.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from trajectories.system.filters import Filter

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


def _sequence(value: object, name: str) -> tuple[object, ...]:
    """``value`` as a tuple, refusing strings and non-iterables with a ValueError."""
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name}={value!r} must be a sequence")
    try:
        return tuple(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{name}={value!r} must be a sequence") from None


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


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
        object.__setattr__(
            self, "transitions", _sequence(self.transitions, "transitions")
        )
        for t in self.transitions:
            self._check_transition(t)
        self._check_energy_conservation()
        if self.filter is None:
            object.__setattr__(self, "filter", Filter(np.eye(len(EA)), np.eye(len(EB))))
        if not isinstance(self.filter, Filter):
            raise ValueError(
                f"filter of type {type(self.filter).__name__} must be a "
                "trajectories.filters.Filter or None"
            )
        self.filter.check_dims(self.dims)
        if self.target is not None:
            k = self.filter.kept_dims
            try:
                psi = np.asarray(self.target, dtype=complex).ravel()
            except (TypeError, ValueError):
                raise ValueError(
                    f"target={self.target!r} must be a unit vector of length "
                    f"{k[0] * k[1]} (the filtered subspace)"
                ) from None
            if psi.size != k[0] * k[1]:
                raise ValueError(
                    f"target must be a unit vector of length {k[0] * k[1]} "
                    f"(the filtered subspace), got length {psi.size}"
                )
            if not np.all(np.isfinite(psi)):
                raise ValueError(f"target={psi} contains NaN or Inf")
            norm = float(np.linalg.norm(psi))
            if not np.isclose(norm, 1.0):
                raise ValueError(
                    f"target must be a unit vector (norm 1), got norm {norm:.6g}"
                )
            object.__setattr__(self, "target", psi)

    def _check_transition(self, t: Transition) -> None:
        if not isinstance(t, Transition):
            raise ValueError(f"transitions must be Transition objects, got {t!r}")
        for label, pair in (("ket", t.ket), ("bra", t.bra)):
            if (
                not isinstance(pair, (tuple, list))
                or len(pair) != 2
                or not all(_is_int(x) for x in pair)
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

    def target_dm(self) -> NDArray[np.complex128]:
        """|target><target| in the relabelled filtered subspace."""
        if self.target is None:
            raise ValueError(f"machine {self.name!r} has no target state")
        return np.outer(self.target, self.target.conj())

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v}" for k, v in self.params.items())
        n = len(self.transitions)
        return f"Machine({self.name}: dims={self.dims}, {n} transitions, {p})"


# ---------------------------------------------------------------------------- presets


def _positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    bound = ">= 0" if allow_zero else "> 0"
    value = _float(value, name, f"a real number {bound}")
    ok = value >= 0 if allow_zero else value > 0
    if not (ok and math.isfinite(value)):
        raise ValueError(f"{name}={value} must be finite and {bound}")
    return value


def _float(value: float, name: str, valid: str) -> float:
    """float(value), refusing booleans and what float() refuses with a ValueError."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r} must be {valid}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be {valid}") from None


def _coupling(value: complex, name: str) -> complex:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r} must be a finite (complex) number")
    try:
        value = complex(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}={value!r} must be a finite (complex) number"
        ) from None
    if not np.isfinite(value):
        raise ValueError(f"{name}={value} must be finite")
    return value


def qudit_energies(
    gaps: Sequence[float],
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Level energies of Eq. 9.

    E^A_k = sum_{l<=k} eps_l and E^B_k = sum_{l<=k} eps_{d-l+1}.
    """
    gaps = [_positive(e, f"gaps[{i}]") for i, e in enumerate(_sequence(gaps, "gaps"))]
    EA = np.concatenate([[0.0], np.cumsum(gaps)])
    EB = np.concatenate([[0.0], np.cumsum(gaps[::-1])])
    return tuple(EA), tuple(EB)


def qudit(
    d: int,
    g: float = 0.01,
    *,
    couplings: Sequence[complex] | None = None,
    gaps: Sequence[float] | None = None,
    eps: float = 1.5,
    g3: complex = 0.0,
) -> Machine:
    """The qudit machine of Eqs. 9-10: two (d+1)-level systems, d >= 2.

    H_int = sum_{k=1}^d g_k |d, 0><k-1, d-k+1| + h.c., with g_k = g/sqrt(2) by default
    (Sec. III). ``gaps`` = (eps_1, ..., eps_d), default (1, eps, ..., eps). The filter
    is Pi_A = 1 - |d><d|, Pi_B = 1 - |0><0| (Eq. C10); the target is |S_d> of Eq. 11, or
    its Schmidt form sum_k g_k^* |k-1, d-k> / ||g|| in the relabelled basis (Eq. D5).
    ``g3`` adds the term g3 |1, d-1><0, d| + h.c. (Eq. A1 for d = 2).
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d={d!r} must be an integer >= 2")
    d = int(d)
    if couplings is None:
        couplings = [_positive(g, "g", allow_zero=True) / math.sqrt(2)] * d
    couplings = [
        _coupling(c, f"couplings[{k}]")
        for k, c in enumerate(_sequence(couplings, "couplings"))
    ]
    if len(couplings) != d:
        raise ValueError(f"couplings has {len(couplings)} entries; d={d} needs {d}")
    if gaps is None:
        gaps = [1.0] + [_positive(eps, "eps")] * (d - 1)
    gaps = list(_sequence(gaps, "gaps"))
    if len(gaps) != d:
        raise ValueError(f"gaps has {len(gaps)} entries; d={d} needs {d}")
    EA, EB = qudit_energies(gaps)
    trans = [
        Transition((d, 0), (k - 1, d - k + 1), couplings[k - 1])
        for k in range(1, d + 1)
    ]
    if g3 != 0:
        trans.append(Transition((1, d - 1), (0, d), _coupling(g3, "g3")))
    norm = np.linalg.norm(couplings)
    target = None
    if norm > 0:
        target = np.zeros(d * d, dtype=complex)
        for k in range(1, d + 1):
            target[(k - 1) * d + (d - k)] = np.conj(couplings[k - 1]) / norm
    return Machine(
        EA,
        EB,
        trans,
        filter=Filter.from_levels(d + 1, d + 1, range(d), range(1, d + 1)),
        target=target,
        name="qudit",
        params={"d": d, "couplings": couplings, "gaps": list(gaps), "g3": g3},
    )


def qutrit(
    g: float = 0.01, theta: float = math.pi / 4, eps: float = 1.5, g3: complex = 0.0
) -> Machine:
    """The two-qutrit machine of Eqs. 1-3: g1 = g cos(theta), g2 = g sin(theta).

    Optional g3 |1,1><0,2| + h.c. (Eq. A1). Filter Pi_A = |0><0| + |1><1|,
    Pi_B = |1><1| + |2><2| (Eq. 5); target cos(theta)|0,1> + sin(theta)|1,0> in the
    relabelled basis (Eq. 7 with sin and cos swapped: relabelled |0,1> is |0,2>, fed
    by g1).
    """
    g = _positive(g, "g", allow_zero=True)
    eps = _positive(eps, "eps")
    theta = _float(theta, "theta", "a finite real number")
    if not math.isfinite(theta):
        raise ValueError(f"theta={theta} must be a finite real number")
    m = qudit(
        2, couplings=[g * math.cos(theta), g * math.sin(theta)], gaps=[1.0, eps], g3=g3
    )
    params = {"g": g, "theta": theta, "eps": eps, "g3": g3}
    return Machine(
        m.energies_A,
        m.energies_B,
        m.transitions,
        filter=m.filter,
        target=m.target,
        name="qutrit",
        params=params,
    )


def schmidt(
    lambdas: Sequence[float], g: float = 0.01, *, gaps: Sequence[float] | None = None
) -> Machine:
    """The machine of Eq. D4 for target Schmidt coefficients lambda_0..lambda_{d-1}.

    H_int = sum_k g lambda_k |d, 0><k, d-k| + h.c.; the target (Eq. D5) is
    sum_k lambda_k |k, d-1-k> in the relabelled basis (|k, k> up to relabelling B).
    """
    try:
        lam = np.asarray(lambdas, dtype=float)
    except (TypeError, ValueError):
        lam = None
    if (
        lam is None
        or lam.ndim != 1
        or lam.size < 2
        or not np.all(np.isfinite(lam))
        or np.any(lam < 0)
    ):
        raise ValueError(f"lambdas={lambdas!r} must be >= 2 finite numbers >= 0")
    if not np.isclose(np.sum(lam**2), 1.0, atol=1e-9):
        raise ValueError(
            f"lambdas={lam.tolist()} must satisfy sum lambda^2 = 1, "
            f"got {np.sum(lam**2):.12g}"
        )
    g = _positive(g, "g", allow_zero=True)
    m = qudit(lam.size, couplings=list(g * lam), gaps=gaps)
    return Machine(
        m.energies_A,
        m.energies_B,
        m.transitions,
        filter=m.filter,
        target=m.target,
        name="schmidt",
        params={"lambdas": list(lam), "g": g, "gaps": m.params["gaps"]},
    )


def one_step(
    d: int,
    g: float = 1e-3,
    g1: float = 5e-3,
    *,
    couplings: Sequence[float] | None = None,
) -> Machine:
    """The one-step machine of Eq. E1: two d-level systems with unit gaps.

    The chain |k, d-1-k> <-> |k+1, d-2-k>, k = 0..d-2 (E1 with the B index read as
    d-1-k, which keeps it inside 0..d-1); couplings default to (g1, g, ..., g) where g1
    is the transition inside the filtered subspace (App. E sets g1 = p_B/2, p_A = g).
    Filter Pi_A = |0><0| + |1><1|, Pi_B = |d-2><d-2| + |d-1><d-1| (Eq. E2). The
    target (|0,1> + i|1,0>)/sqrt(2) carries the phase of the coherence -i eta_d of
    Eq. E3 (<0,1|rho'|1,0> = -i eta_d), so that its fidelity tends to 1/2 + eta_d.
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 3:
        raise ValueError(f"d={d!r} must be an integer >= 3")
    d = int(d)
    if couplings is None:
        couplings = [_positive(g1, "g1", allow_zero=True)]
        couplings += [_positive(g, "g", allow_zero=True)] * (d - 2)
    couplings = [
        _positive(c, f"couplings[{k}]", allow_zero=True)
        for k, c in enumerate(_sequence(couplings, "couplings"))
    ]
    if len(couplings) != d - 1:
        raise ValueError(f"couplings has {len(couplings)} entries; d={d} needs {d - 1}")
    E = tuple(float(k) for k in range(d))
    trans = [
        Transition((k + 1, d - 2 - k), (k, d - 1 - k), couplings[k])
        for k in range(d - 1)
    ]
    target = np.array([0, 1, 1j, 0]) / math.sqrt(2)
    return Machine(
        E,
        E,
        trans,
        filter=Filter.from_levels(d, d, [0, 1], [d - 2, d - 1]),
        target=target,
        name="one-step",
        params={"d": d, "couplings": couplings},
    )


def qubit_qubit(g: float = 0.01) -> Machine:
    """The qubit-qubit machine of App. G1: spectra (0, 1), H_int = g|0,1><1,0| + h.c.

    No filter; the reference target is (|0,1> + i|1,0>)/sqrt(2), the phase of the
    steady-state coherence of Eq. G1.
    """
    g = _positive(g, "g", allow_zero=True)
    return Machine(
        (0.0, 1.0),
        (0.0, 1.0),
        [Transition((0, 1), (1, 0), g)],
        target=np.array([0, 1, 1j, 0]) / math.sqrt(2),
        name="qubit-qubit",
        params={"g": g},
    )


def qubit_qutrit(g1: float = 0.01, g2: float = 0.01, keep: str = "upper") -> Machine:
    """The qubit-qutrit machine of Eq. G5: qubit (0, 1), qutrit (0, 1, 2).

    H_int = g1 |0,1><1,0| + g2 |0,2><1,1| + h.c. The qutrit filter keeps its two upper
    levels (``keep="upper"``, G6) or its two lower levels (``keep="lower"``, G8); the
    qubit is not filtered. Reference targets follow the coherence phases of G6 and G8.
    """
    g1 = _positive(g1, "g1", allow_zero=True)
    g2 = _positive(g2, "g2", allow_zero=True)
    if keep not in ("upper", "lower"):
        raise ValueError(f"keep={keep!r} must be 'upper' or 'lower'")
    levels_B = [1, 2] if keep == "upper" else [0, 1]
    phase = -1j if keep == "upper" else 1j
    return Machine(
        (0.0, 1.0),
        (0.0, 1.0, 2.0),
        [Transition((0, 1), (1, 0), g1), Transition((0, 2), (1, 1), g2)],
        filter=Filter.from_levels(2, 3, [0, 1], levels_B),
        target=np.array([0, 1, phase, 0]) / math.sqrt(2),
        name="qubit-qutrit",
        params={"g1": g1, "g2": g2, "keep": keep},
    )


PRESETS = {
    "qutrit": qutrit,
    "qudit": qudit,
    "schmidt": schmidt,
    "one-step": one_step,
    "qubit-qubit": qubit_qubit,
    "qubit-qutrit": qubit_qutrit,
}
"""Preset machine constructors by name."""
