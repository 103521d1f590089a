"""Time averages of the density along trajectories, of every element or of chosen ones.

The time average of a trajectory over a window is (1/tau) integral psi psi^dag du
(integrals between events in ``segment_integrals``, exact for the reset model of
Eq. 4). Over all D^2 elements it costs O(D^2) per trajectory and event, and
(chunk, D, D) of memory (``FullAverage``). The run's steady-state estimate needs only
the elements the exact steady state has: every population and the few coherences
that H_int builds inside degenerate manifolds (App. B, C). ``ElementAverage``
integrates only the pairs (l, m) of eigen-coordinates that chosen joint-basis
elements (i, j) draw on, rho_ij = sum_lm R_il A_lm R_jm^*: R is 1 outside the
coupled block (a population of an uncoupled level is one pair), so the work scales
with the chosen elements and the coupled block, not with D^2.

Both keep, per trajectory, the running integral in the shape of ``zeros``, map it to
the joint basis (``to_joint``), add its sums and squares to (D, D) sums (``add``) and
give the expectations of the observables (``expect``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from trajectories.engine.segment_integrals import Pairs, segment_density_integral
from trajectories.engine.unravelling import Unravelling


def squares(x: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """Re(x)^2 + 1j Im(x)^2, for running variances of real and imaginary parts."""
    return x.real**2 + 1j * x.imag**2


@dataclass(frozen=True, eq=False)
class FullAverage:
    """Every element: running integrals (m, D, D) in eigen-coordinates."""

    unr: Unravelling
    elements = None  # every element is kept

    def zeros(self, m: int) -> NDArray[np.complex128]:
        """Zero running integrals of m trajectories."""
        return np.zeros((m, self.unr.dim, self.unr.dim), complex)

    def integral(
        self, c: NDArray[np.complex128], s: NDArray[np.float64]
    ) -> NDArray[np.complex128]:
        """The integrals over the next s of states with coordinates c (n, D)."""
        return segment_density_integral(self.unr, c, s)

    def to_joint(self, acc: NDArray[np.complex128]) -> NDArray[np.complex128]:
        """R A R^dag of running integrals: (n, D, D) in the joint basis."""
        return self.unr.coords_to_density(acc)

    def add(
        self, rho: NDArray[np.complex128], rho_sq: NDArray[np.complex128], X: NDArray
    ) -> None:
        """Add the sums of X and of its squares (``squares``) to (D, D) sums."""
        rho += X.sum(axis=0)
        rho_sq += squares(X).sum(axis=0)

    def expect(self, X: NDArray, ops: NDArray) -> NDArray[np.float64]:
        """Tr(O_k X_n) for X (n, D, D) and operators (K, D, D): (n, K)."""
        return np.einsum("kji,nij->nk", ops, X).real


@dataclass(frozen=True, eq=False)
class ElementAverage:
    """The elements (i, j), i <= j, of the joint basis (the others are not
    recorded and stay 0 in the sums): running integrals (m, P) at the coordinate
    pairs ``pairs``, mapped by the sparse (S, P) matrix ``weights`` of the products
    R_il R_jm^*."""

    unr: Unravelling
    i: NDArray[np.int64]
    j: NDArray[np.int64]
    pairs: Pairs
    weights: sp.csr_array

    @classmethod
    def build(cls, unr: Unravelling, i: NDArray, j: NDArray) -> ElementAverage:
        """The average of the elements (i[p], j[p]) of ``unr``'s model."""
        i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
        D = unr.dim
        if i.shape != j.shape or i.ndim != 1 or i.size == 0:
            raise ValueError("average_elements must be two equal 1-d index arrays")
        if (i < 0).any() or (j >= D).any() or (i > j).any():
            raise ValueError(f"average_elements must satisfy 0 <= i <= j < D={D}")
        if np.unique(i * D + j).size != i.size:
            raise ValueError("average_elements repeats an element")
        rows = _coordinate_rows(unr)
        elem, code, val = [], [], []
        for p, (a, b) in enumerate(zip(i.tolist(), j.tolist(), strict=True)):
            la, ra = rows[a]
            lb, rb = rows[b]
            elem.append(np.full(la.size * lb.size, p))
            code.append((la[:, None] * D + lb[None, :]).ravel())
            val.append((ra[:, None] * rb.conj()[None, :]).ravel())
        codes, col = np.unique(np.concatenate(code), return_inverse=True)
        weights = sp.csr_array(
            (np.concatenate(val), (np.concatenate(elem), col)),
            shape=(i.size, codes.size),
        )
        return cls(unr, i, j, Pairs.of(unr, codes // D, codes % D), weights)

    @property
    def elements(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The elements (i, j) kept."""
        return self.i, self.j

    def zeros(self, m: int) -> NDArray[np.complex128]:
        """Zero running integrals of m trajectories."""
        return np.zeros((m, self.pairs.left.size), complex)

    def integral(
        self, c: NDArray[np.complex128], s: NDArray[np.float64]
    ) -> NDArray[np.complex128]:
        """The integrals at the pairs over the next s, coordinates c (n, D)."""
        return segment_density_integral(self.unr, c, s, self.pairs)

    def to_joint(self, acc: NDArray[np.complex128]) -> NDArray[np.complex128]:
        """The elements (n, S) of R A R^dag from running integrals (n, P)."""
        return np.ascontiguousarray((self.weights @ acc.T).T)

    def add(
        self, rho: NDArray[np.complex128], rho_sq: NDArray[np.complex128], X: NDArray
    ) -> None:
        """Add the sums of the elements X (n, S) and of their squares to the
        (D, D) sums, both triangles (the mirrored element is the conjugate)."""
        total, total_sq = X.sum(axis=0), squares(X).sum(axis=0)
        rho[self.i, self.j] += total
        rho_sq[self.i, self.j] += total_sq
        off = self.i != self.j
        rho[self.j[off], self.i[off]] += total[off].conj()
        rho_sq[self.j[off], self.i[off]] += total_sq[off]

    def expect(self, X: NDArray, ops: NDArray) -> NDArray[np.float64]:
        """Tr(O_k X_n) from the elements X (n, S): sum_ij O_ji X_ij over both
        triangles (``check_observables``: the operators live on the elements)."""
        i, j, off = self.i, self.j, self.i != self.j
        upper = ops[:, j, i].T
        lower = ops[:, i, j].T * off[:, None]
        return (X @ upper + X.conj() @ lower).real

    def check_observables(self, names: tuple[str, ...], ops: NDArray) -> None:
        """ValueError if an observable has an entry outside the elements, whose
        expectation the recorded elements cannot give."""
        D = self.unr.dim
        mask = np.zeros((D, D), dtype=bool)
        mask[self.i, self.j] = mask[self.j, self.i] = True
        for name, op in zip(names, ops, strict=True):
            if np.any((op != 0) & ~mask):
                raise ValueError(
                    f"observable {name!r} has entries outside average_elements: "
                    "its time average cannot be formed from them"
                )


TimeAverage = FullAverage | ElementAverage
"""How the time averages of a run are kept."""


def _coordinate_rows(
    unr: Unravelling,
) -> list[tuple[NDArray[np.int64], NDArray[np.complex128]]]:
    """Per joint-basis level i, the coordinates l with R_il != 0 and those R_il
    (R is 1 outside the coupled block, R_block on it)."""
    one = np.ones(1, dtype=complex)
    rows = [(np.array([i], dtype=np.int64), one) for i in range(unr.dim)]
    C = unr.coupled
    for a, i in enumerate(C.tolist()):
        nz = np.flatnonzero(unr.R_block[a])
        rows[i] = (C[nz], unr.R_block[a, nz])
    return rows
