"""Evolution without jumps, exp(-i H_eff s), between the events of a trajectory.

``EvolvePlan`` holds what ``Unravelling.evolve_inplace`` applies: the coupled block
of H_eff in its eigenbasis (a phase, or for real eigenvalues +-w one cos and sin per
frequency w), by the graded Taylor series or by the exceptional-point propagator
(``propagation``), and a phase or a real decay on every other level. ``Motion`` says
which states of one pass of the event loop need to move at all, and ``ClockTables``
groups the levels by decay rate for the jump-time kernels (``jump_times``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trajectories.engine.propagation import BlockPropagator, taylor_propagate


@dataclass(frozen=True, eq=False)
class Motion:
    """How the states of one pass move between events, for a non-uniform decay with
    no phase outside the coupled block (the interaction picture): a state whose
    population lies on uncoupled levels of one rate G only decays as exp(-G s / 2)
    (``frozen``: its normalised state does not change); the others evolve, with a
    per-level decay alone if they have no population in the coupled block."""

    frozen: NDArray[np.bool_]
    rate: NDArray[np.float64]  # <G>: the rate of the frozen rows
    coupled: NDArray[np.int64]  # rows to evolve in full
    decaying: NDArray[np.int64]  # rows to evolve by per-level decays


@dataclass(frozen=True, eq=False)
class EvolvePlan:
    """Precomputed pieces of ``Unravelling.evolve_inplace``."""

    C: slice | NDArray[np.int64] | None  # the coupled block
    R_inv_T: NDArray[np.complex128]
    R_T: NDArray[np.complex128]
    phase_C: NDArray[np.complex128]  # -i lam on the coupled block
    freq: NDArray[np.float64] | None  # real eigenvalues: the frequencies w >= 0
    use: tuple[tuple[int, int], ...]  # per eigenvalue (w index, +1 / -1 / 0 for +-w, 0)
    decay: NDArray[np.float64] | None  # real rates of all levels, 0 where none
    rest: slice | NDArray[np.int64] | None  # levels with a complex phase
    phase_rest: NDArray[np.complex128] | None
    frozen_ok: bool  # no phase outside the coupled block (see ``Motion``)
    taylor: NDArray[np.complex128] | None  # the block's generator, if graded
    exact: BlockPropagator | None  # the block's propagator near exceptional points

    @classmethod
    def build(
        cls,
        lam: NDArray[np.complex128],
        uniform: bool,
        blocks: tuple[NDArray[np.int64], NDArray[np.int64]],
        R_block: tuple[NDArray[np.complex128], NDArray[np.complex128]],
        taylor: NDArray[np.complex128] | None,
        exact: BlockPropagator | None,
    ) -> EvolvePlan:
        """The plan for eigenvalues ``lam`` of H_eff (the common decay left out if
        ``uniform``), ``blocks`` = (coupled, uncoupled) levels and ``R_block`` =
        (R, R^-1) on the coupled block."""
        C, U = blocks
        lam_eff = lam.real + 0j if uniform else lam
        rest = U[lam_eff[U] != 0]
        lam_rest = lam_eff[rest]
        decay = phase_rest = None
        if rest.size and np.all(lam_rest.real == 0):
            decay = np.zeros(lam.size)
            decay[rest] = lam_rest.imag
        elif rest.size:
            phase_rest = -1j * lam_rest
        freq, use = _frequencies(lam[C].real) if uniform else (None, ())
        return cls(
            _index(C) if C.size else None,
            np.ascontiguousarray(R_block[1].T),
            np.ascontiguousarray(R_block[0].T),
            -1j * lam_eff[C],
            freq,
            use,
            decay,
            _index(rest) if phase_rest is not None else None,
            phase_rest,
            phase_rest is None,
            taylor,
            exact,
        )

    def evolve(self, psi: NDArray[np.complex128], s: NDArray[np.float64]) -> None:
        """exp(-i H_eff s) psi in place (a C-contiguous complex array (n, D))."""
        if self.C is not None:
            psi[:, self.C] = self._evolve_block(psi[:, self.C], s)
        if self.decay is not None:  # real factors on all levels (1 where none)
            self.apply_decay(psi, s)
        elif self.rest is not None:
            psi[:, self.rest] *= np.exp(np.multiply.outer(s, self.phase_rest))

    def _evolve_block(
        self, psi_C: NDArray[np.complex128], s: NDArray[np.float64]
    ) -> NDArray[np.complex128]:
        """The coupled block of ``evolve``, states (n, |C|) in the joint basis."""
        if self.taylor is not None:
            return taylor_propagate(self.taylor, psi_C, s)
        if self.exact is not None:
            return self.exact.apply(psi_C, s)
        cC = psi_C @ self.R_inv_T
        if self.freq is None:
            cC *= np.exp(np.multiply.outer(s, self.phase_C))
        else:  # real eigenvalues +-w: one cos and sin per frequency w
            x = np.multiply.outer(s, self.freq)
            z = np.empty(x.shape, dtype=complex)
            np.cos(x, out=z.real)
            np.sin(x, out=z.imag)  # z = exp(i w s)
            for col, (j, sign) in enumerate(self.use):
                if sign > 0:
                    cC[:, col] *= z[:, j].conj()
                elif sign < 0:
                    cC[:, col] *= z[:, j]
        return cC @ self.R_T

    def apply_decay(self, psi: NDArray[np.complex128], s: NDArray[np.float64]) -> None:
        """The real per-level decay of ``evolve`` alone, in place: all of ``evolve``
        for states with no population in the coupled block (see ``Motion``)."""
        f = np.exp(np.multiply.outer(s, self.decay))
        psi.view(np.float64).reshape(*psi.shape, 2)[...] *= f[:, :, None]


def _frequencies(
    E: NDArray[np.float64],
) -> tuple[NDArray[np.float64] | None, tuple[tuple[int, int], ...]]:
    """Eigenvalues E of a Hermitian block as +-w with as few w as possible: those
    equal to rounding (32 eps max|E|, the accuracy of the eigensolver) to minus
    another share its phase conjugated, those zero to rounding get no phase. Returns
    (w, ((index into w, sign), ...)), or (None, ()) if nothing is saved."""
    tol = 32 * np.finfo(float).eps * np.abs(E).max(initial=0.0)
    freq: list[float] = []
    use: list[tuple[int, int]] = [(0, 0)] * E.size
    free = [k for k in np.argsort(-E) if abs(E[k]) > tol]
    while free:
        k = free.pop(0)
        partner = next((j for j in free if abs(E[j] + E[k]) <= tol), None)
        w = E[k] if partner is None else 0.5 * (E[k] - E[partner])
        use[k] = (len(freq), 1)
        if partner is not None:
            free.remove(partner)
            use[partner] = (len(freq), -1)
        freq.append(float(w))
    if len(freq) == E.size:
        return None, ()
    return np.array(freq), tuple(use)


def _index(levels: NDArray[np.int64]) -> slice | NDArray[np.int64]:
    """A slice for evenly spaced increasing levels (a view, no copy), else the array."""
    if levels.size == 1:
        return slice(int(levels[0]), int(levels[0]) + 1)
    step = int(levels[1] - levels[0])
    if step > 0 and np.all(np.diff(levels) == step):
        return slice(int(levels[0]), int(levels[-1]) + 1, step)
    return levels


@dataclass(frozen=True, eq=False)
class ClockTables:
    """Tables of ``jump_times.clock_jump_times`` for a model with a non-uniform decay.

    The levels outside the coupled block are grouped by their decay rate (equal to
    1e-14 relative); a state whose population lies in one such group alone decays as
    exp(-G s) (closed form), any other state needs the root finding.
    """

    start: NDArray[np.float64]  # (D, n_groups + 2): group indicators | G | 1
    n_groups: int
    coupled_group: int  # column of the coupled block in ``start``, or -1
    bound: float  # max |d^2/ds^2 log ||psi(s)||^2| over all states

    @classmethod
    def build(
        cls,
        G: NDArray[np.float64],
        blocks: tuple[NDArray[np.int64], NDArray[np.int64]],
        block_heff: NDArray[np.complex128],
    ) -> ClockTables:
        """Tables for the decay rates G (the diagonal of G), ``blocks`` = (coupled,
        uncoupled) levels and the coupled block of H_eff."""
        C, U = blocks
        order = U[np.argsort(G[U], kind="stable")]
        groups: list[list[int]] = []
        for i in order:
            if groups and G[i] - G[groups[-1][0]] <= 1e-14 * G[i]:
                groups[-1].append(int(i))
            else:
                groups.append([int(i)])
        if C.size:
            groups.append([int(i) for i in C])
        start = np.zeros((G.size, len(groups) + 2))
        for col, levels in enumerate(groups):
            start[levels, col] = 1.0
        start[:, -2], start[:, -1] = G, 1.0
        # d^2/ds^2 log||psi(s)||^2 = Var(G) - <i[H, G]> in the normalised state; H is
        # diagonal outside the coupled block, where it commutes with G
        bound = 0.25 * np.ptp(G) ** 2
        if C.size:
            g = G[C]
            H_C = block_heff + 0.5j * np.diag(g)
            K = 1j * (H_C * g[None, :] - g[:, None] * H_C)
            bound += np.linalg.norm(K, 2)
        return cls(start, len(groups), len(groups) - 1 if C.size else -1, bound)
