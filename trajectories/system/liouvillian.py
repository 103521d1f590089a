"""Sparse Liouvillians and their reduction to the coherences a steady state can have.

Convention: column-stacking vectorisation, vec(rho)[i + D j] = rho[i, j], so that
vec(A rho B) = (B^T (x) A) vec(rho), as in QuTiP. The Lindblad generator (Eq. F1) is

    L rho = -i[H, rho] + sum_k (L_k rho L_k^dag - 1/2 {L_k^dag L_k, rho}).

The reduction (App. B, C): starting from the populations, the matrix elements that
the generator can ever feed form a closed set R; a steady state reached from any
diagonal state lives in span(R). For an energy-conserving H_int and covariant
dissipators R only holds coherences inside degenerate energy subspaces, and usually far
fewer (the coherences H_int actually builds), so the steady state is a small solve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray


@dataclass(frozen=True, eq=False)
class JumpOperator:
    """A jump operator L on the joint space (D, D), stored as its nonzero entries
    (``rows``, ``cols``, ``vals``), with the bath it belongs to ("A" or "B")."""

    name: str
    bath: str
    rows: NDArray[np.int64]
    cols: NDArray[np.int64]
    vals: NDArray[np.complex128]
    dim: int

    @property
    def op(self) -> sp.csr_matrix:
        """L as a sparse (D, D) matrix."""
        return sp.csr_matrix((self.vals, (self.rows, self.cols)), shape=(self.dim,) * 2)


def lindblad_liouvillian(
    H: NDArray[np.complex128] | sp.spmatrix, jump_ops: Sequence[JumpOperator]
) -> sp.csr_matrix:
    """The Lindblad generator as a sparse (D^2, D^2) matrix (Eq. F1 form).

    Built from the nonzero entries of the jump operators in a few vectorised numpy
    steps (operators with the same number of nonzeros are processed together).
    """
    H = sp.coo_matrix(H, dtype=complex)
    D = H.shape[0]
    n = np.arange(D)
    # -i (1 (x) H - H^T (x) 1): vec index of rho[i, j] is i + D j
    rows = [H.row[:, None] + D * n[None, :], H.col[:, None] * D + n[None, :]]
    cols = [H.col[:, None] + D * n[None, :], H.row[:, None] * D + n[None, :]]
    vals = [
        np.broadcast_to(-1j * H.data[:, None], (H.nnz, D)),
        np.broadcast_to(1j * H.data[:, None], (H.nnz, D)),
    ]
    if jump_ops:
        G = _sum_LdagL(jump_ops, D)
        rows += [G.row[:, None] + D * n[None, :], G.col[:, None] * D + n[None, :]]
        cols += [G.col[:, None] + D * n[None, :], G.row[:, None] * D + n[None, :]]
        vals += [np.broadcast_to(-0.5 * G.data[:, None], (G.nnz, D))] * 2
        for r, c, v in _grouped(jump_ops):
            # conj(L) (x) L: entry (r1 D + r2, c1 D + c2) = conj(L[r1, c1]) L[r2, c2]
            rows.append(r[:, :, None] * D + r[:, None, :])
            cols.append(c[:, :, None] * D + c[:, None, :])
            vals.append(np.conj(v)[:, :, None] * v[:, None, :])
    L = sp.coo_matrix(
        (
            np.concatenate([np.ravel(v) for v in vals]),
            (
                np.concatenate([np.ravel(r) for r in rows]),
                np.concatenate([np.ravel(c) for c in cols]),
            ),
        ),
        shape=(D * D, D * D),
    ).tocsr()
    L.sum_duplicates()
    return L


def _grouped(jump_ops: Sequence[JumpOperator]):
    """Stacked (rows, cols, vals) arrays of shape (n_ops, nnz) per nonzero count."""
    by_nnz: dict[int, list[JumpOperator]] = {}
    for j in jump_ops:
        by_nnz.setdefault(j.vals.size, []).append(j)
    for group in by_nnz.values():
        yield (
            np.stack([j.rows for j in group]),
            np.stack([j.cols for j in group]),
            np.stack([j.vals for j in group]),
        )


def _sum_LdagL(jump_ops: Sequence[JumpOperator], D: int) -> sp.coo_matrix:
    """sum_k L_k^dag L_k as S^dag S with S the vertical stack of all L_k."""
    offsets = np.repeat(np.arange(len(jump_ops)) * D, [j.vals.size for j in jump_ops])
    S = sp.csr_matrix(
        (
            np.concatenate([j.vals for j in jump_ops]),
            (
                np.concatenate([j.rows for j in jump_ops]) + offsets,
                np.concatenate([j.cols for j in jump_ops]),
            ),
        ),
        shape=(len(jump_ops) * D, D),
    )
    G = (S.conj().T @ S).tocoo()
    G.sum_duplicates()
    return G


def diagonal_indices(D: int) -> NDArray[np.int64]:
    """Positions of the populations rho[i, i] in vec(rho)."""
    return np.arange(D) * (D + 1)


def reachable_support(L: sp.spmatrix, start: NDArray[np.int64]) -> NDArray[np.int64]:
    """Sorted indices of vec(rho) reachable from ``start`` through the sparsity of L.

    The result R is closed: L maps span(R) into itself, so e^{Lt} keeps a state that
    starts in span(R) inside it, and its limit (the steady state) lies there too.
    """
    pattern = sp.csr_matrix(L, copy=True)
    pattern.data = np.ones_like(pattern.data, dtype=np.float64)
    reached = np.zeros(L.shape[0], dtype=bool)
    reached[start] = True
    frontier = reached.astype(np.float64)
    while True:
        new = (pattern @ frontier > 0) & ~reached
        if not new.any():
            return np.flatnonzero(reached)
        reached |= new
        frontier = new.astype(np.float64)


def unvec(x: NDArray[np.complex128], support: NDArray[np.int64], D: int) -> NDArray:
    """Dense (D, D) matrix from the values ``x`` at vec positions ``support``."""
    flat = np.zeros(D * D, dtype=complex)
    flat[support] = x
    return flat.reshape(D, D, order="F")
