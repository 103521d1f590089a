"""Local filters: a pair of local two-outcome projective measurements (Eq. 5).

Each side measures ``{Pi, 1 - Pi}``; the four joint outcomes are (pass, pass),
(pass, fail), (fail, pass) and (fail, fail), and success is (pass, pass).

Basis convention (used throughout the package): the joint basis is
``|a, b> = |a>_A (x) |b>_B`` with flat index ``a * d_B + b`` (QuTiP's tensor order).
The post-selected state rho' is reported in the relabelled basis of the filtered
subspace: the kept levels of each side, in increasing order, renumbered 0, 1, ...
(e.g. the qutrit filter Pi_B = |1><1| + |2><2| maps B levels 1, 2 to 0, 1, as in Eq. 7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trajectories.system.checks import check_int, check_sequence, is_integer
from trajectories.system.qobj import is_qobj, local_operator

OUTCOMES = ("pass_pass", "pass_fail", "fail_pass", "fail_fail")
"""Names of the four joint outcomes, (A, B); success is ``pass_pass``."""

FILTER_TOL = 1e-10
"""Absolute tolerance of the projector checks P = P^dag and P @ P = P (and of the
test for a diagonal projector)."""

_PROJECTOR = "a filter must be an orthogonal projector, P = P^dag = P @ P"


def _check_projector(P: NDArray[np.complex128], d: int, name: str) -> None:
    if P.shape != (d, d):
        raise ValueError(f"{name} has shape {P.shape}; it must be ({d}, {d})")
    if not np.all(np.isfinite(P)):
        raise ValueError(f"{name}={P.tolist()} contains NaN or Inf; {_PROJECTOR}")
    if not np.allclose(P, P.conj().T, rtol=0, atol=FILTER_TOL):
        dev = float(np.abs(P - P.conj().T).max())
        raise ValueError(
            f"{name} is not Hermitian, max |P - P^dag| = {dev:.3g}; {_PROJECTOR}"
        )
    if not np.allclose(P @ P, P, rtol=0, atol=FILTER_TOL):
        dev = float(np.abs(P @ P - P).max())
        raise ValueError(
            f"{name} is not a projector, max |P @ P - P| = {dev:.3g}; {_PROJECTOR}"
        )
    rank = round(float(np.trace(P).real))
    if rank < 1:
        raise ValueError(
            f"{name} has rank {rank}; it must keep at least one level (rank 1..{d})"
        )


def _isometry(P: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """Columns spanning the range of a projector, kept levels in increasing order."""
    diag = np.diag(P).real
    if np.allclose(P, np.diag(diag), rtol=0, atol=FILTER_TOL):
        keep = np.flatnonzero(diag > 0.5)
        return np.eye(P.shape[0], dtype=complex)[:, keep]
    vals, vecs = np.linalg.eigh(P)
    return vecs[:, vals > 0.5]


@dataclass(frozen=True, eq=False)
class Filter:
    """Local filter projectors Pi_A (d_A, d_A) and Pi_B (d_B, d_B) of Eq. 5 (arrays,
    or ``qutip.Qobj`` with dims [[d], [d]])."""

    pi_A: NDArray[np.complex128]
    pi_B: NDArray[np.complex128]

    def __post_init__(self) -> None:
        for name in ("pi_A", "pi_B"):
            value = getattr(self, name)
            if is_qobj(value):
                value = local_operator(value, name)
            try:
                P = np.asarray(value, dtype=complex)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{name}={getattr(self, name)!r} must be a square numeric matrix"
                ) from None
            if P.ndim != 2 or P.shape[0] != P.shape[1]:
                raise ValueError(f"{name} has shape {P.shape}; it must be square")
            _check_projector(P, P.shape[0], name)
            object.__setattr__(self, name, P)

    @classmethod
    def from_levels(
        cls, d_A: int, d_B: int, levels_A: Sequence[int], levels_B: Sequence[int]
    ) -> Filter:
        """Filter that keeps the given energy levels of each side."""
        return cls(
            _level_projector(d_A, levels_A, "levels_A"),
            _level_projector(d_B, levels_B, "levels_B"),
        )

    @property
    def dims(self) -> tuple[int, int]:
        """Local dimensions (d_A, d_B)."""
        return self.pi_A.shape[0], self.pi_B.shape[0]

    @property
    def kept_dims(self) -> tuple[int, int]:
        """Dimensions of the filtered subspaces (ranks of Pi_A and Pi_B)."""
        return _isometry(self.pi_A).shape[1], _isometry(self.pi_B).shape[1]

    def check_dims(self, dims: tuple[int, int]) -> None:
        """Raise a ValueError if the filter does not act on systems of ``dims``."""
        if self.dims != tuple(dims):
            raise ValueError(
                f"filter acts on local dimensions {self.dims}, the machine has {dims}"
            )

    def joint_projectors(self) -> dict[str, NDArray[np.complex128]]:
        """The four joint outcome projectors (D, D), keyed by ``OUTCOMES``."""
        I_A, I_B = np.eye(self.dims[0]), np.eye(self.dims[1])
        sides_A = {"pass": self.pi_A, "fail": I_A - self.pi_A}
        sides_B = {"pass": self.pi_B, "fail": I_B - self.pi_B}
        return {
            name: np.kron(sides_A[name.split("_")[0]], sides_B[name.split("_")[1]])
            for name in OUTCOMES
        }

    def success_projector(self) -> NDArray[np.complex128]:
        """Pi_A (x) Pi_B as a (D, D) matrix."""
        return np.kron(self.pi_A, self.pi_B)

    def levels(self) -> tuple[list[int], list[int]] | None:
        """The kept levels of A and of B, or None if a projector is not diagonal."""
        out = []
        for P in (self.pi_A, self.pi_B):
            diag = np.diag(P).real
            if not np.allclose(P, np.diag(diag), rtol=0, atol=FILTER_TOL):
                return None
            out.append([int(k) for k in np.flatnonzero(diag > 0.5)])
        return out[0], out[1]

    def isometry(self) -> NDArray[np.complex128]:
        """V (D, k_A k_B) with V^dag V = 1 mapping the relabelled subspace into the
        joint space; rho' (relabelled) = V^dag rho V / p_suc."""
        return np.kron(_isometry(self.pi_A), _isometry(self.pi_B))


def _level_projector(
    d: int, levels: Sequence[int], name: str
) -> NDArray[np.complex128]:
    d = check_int(d, "d")
    levels = list(check_sequence(levels, name))
    if not all(is_integer(k) for k in levels):
        raise ValueError(f"{name}={levels} must be integer levels in 0..{d - 1}")
    if not levels or any(not 0 <= int(k) < d for k in levels):
        raise ValueError(f"{name}={levels} must be a non-empty subset of 0..{d - 1}")
    if len(set(levels)) != len(levels):
        raise ValueError(f"{name}={levels} has repeated levels")
    P = np.zeros((d, d), dtype=complex)
    P[levels, levels] = 1.0
    return P


def check_filter(value: object, name: str = "filt", *, none_ok: bool = False) -> None:
    """Refuse what is not a ``Filter`` (nor None, with ``none_ok``)."""
    if not isinstance(value, Filter) and not (none_ok and value is None):
        raise ValueError(
            f"{name} of type {type(value).__name__} must be a "
            f"trajectories.filters.Filter{' or None' if none_ok else ''}"
        )
