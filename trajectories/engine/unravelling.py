"""The arrays of a model for the quantum-jump unravelling (exact between jumps).

Between jumps a trajectory evolves under H_eff = H - i/2 G with G = sum_k L_k^dag L_k
diagonal (the jumps are local one-element operators, ``channels``):

* reset model: G = (p_A + p_B) 1, so the norm decays as exp(-(p_A + p_B) t) whatever the
  state: jump times are a Poisson process and the normalised evolution is unitary;
* Lindblad model: the jump time solves ||exp(-i H_eff t) psi||^2 = r exactly (Newton on
  the log-norm with a bisection bracket, to 1e-13 relative).

States are kept in eigen-coordinates, psi = R c with H_eff = R diag(lam) R^-1, so free
evolution is a phase (or decay) per component. Near an exceptional point of H_eff the
eigenvectors of its coupled block are ill-conditioned (``COND_EXACT``); that block is
then propagated by ``propagation.BlockPropagator`` (exact dyadic propagators and a
Taylor series) in the joint basis (R = 1 there).

The kernels that use these arrays: ``jump_times`` (when the next jump comes),
``jumps`` (which channel, and the state after it), ``segment_integrals`` (time
averages between events); ``event_loop`` runs them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
from numpy.typing import NDArray

from trajectories.engine.channels import Channels, JumpTables, local_channels
from trajectories.engine.free_evolution import ClockTables, EvolvePlan, Motion
from trajectories.engine.propagation import BlockPropagator, coupled_levels
from trajectories.system.models import OpenSystem

PROPAGATORS = ("eigen", "taylor")
"""How the coupled block is propagated between events (``Unravelling.from_model``)."""
COND_EXACT = 100.0
"""Eigenvector condition number of the coupled block of H_eff from which the block is
propagated by ``BlockPropagator`` rather than in its eigenbasis. The eigenbasis path
adds a relative error of up to ~2.5e-16 cond (measured near the exceptional points of
the qubit-qubit and qutrit machines: 1.6e-13 at cond 1.4e3, 1e-8 at the point
itself); below 100 this part stays under ~3e-14, inside the 1e-13 promised for the
norm decay and the jump times. The Fig. 5(b) grid (cond <= 61) keeps the eigenbasis."""


def _coupled_eigensystem(
    block: NDArray[np.complex128],
    G_C: NDArray[np.float64],
    uniform_rate: np.float64 | None,
) -> tuple[
    NDArray[np.complex128],
    NDArray[np.complex128],
    NDArray[np.complex128],
    BlockPropagator | None,
]:
    """(lam, R, R^-1, None) of the coupled block of H_eff = H - i/2 G (H Hermitian,
    ``block``), or (lam, 1, 1, its ``BlockPropagator``) when the eigenvector condition
    number reaches ``COND_EXACT`` (near, or at, an exceptional point). With a
    ``uniform_rate`` G the eigenvectors are those of H (unitary)."""
    if uniform_rate is not None:
        E, R = la.eigh(block)
        return E - 0.5j * uniform_rate, R, R.conj().T, None
    block = block - 0.5j * np.diag(G_C)
    lam, R = la.eig(block)
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = float(np.linalg.cond(R)) if block.size else 1.0
    if cond < COND_EXACT:
        return lam, R, la.inv(R), None
    eye = np.eye(block.shape[0], dtype=complex)
    return lam, eye, eye, BlockPropagator(block)


@dataclass(frozen=True, eq=False)
class Unravelling:
    """Precomputed arrays of a model for the jump engine.

    Attributes
    ----------
    dims, channels
        Local dimensions and the jump channels.
    lam, R
        Eigenvalues and eigenvectors of H_eff (R unitary for the reset model).
    metric
        R^dag R, so that ||psi||^2 = c^dag metric c.
    uniform_rate
        The constant total jump rate when G is a multiple of 1 (reset model), else None.
    coupled, R_block, R_inv_block
        The levels that H couples, and R, R^-1 on them (R is 1 elsewhere).
    decay, generator
        The diagonal of G; -i H_eff on the coupled block (its common decay left out
        for the reset model), propagated by the graded Taylor series if
        ``propagator`` is ``"taylor"``.
    exact_block
        The ``BlockPropagator`` of the coupled block when its eigenvectors are
        ill-conditioned (``COND_EXACT``); R is then 1 on the block.
    """

    dims: tuple[int, int]
    channels: Channels
    lam: NDArray[np.complex128]
    R: NDArray[np.complex128]
    metric: NDArray[np.complex128]
    uniform_rate: float | None

    coupled: NDArray[np.int64]
    R_block: NDArray[np.complex128]
    R_inv_block: NDArray[np.complex128]
    decay: NDArray[np.float64]  # diagonal of G = sum_k L_k^dag L_k
    generator: NDArray[np.complex128]  # -i H_eff on the coupled block (rate left out)
    propagator: str = "eigen"
    exact_block: BlockPropagator | None = None  # near exceptional points (R_block = 1)

    @classmethod
    def from_model(
        cls,
        model: OpenSystem,
        interaction_picture: bool = True,
        propagator: str = "eigen",
    ) -> Unravelling:
        """Diagonalise H_eff of ``model`` (H_int alone in the interaction picture).

        Only the levels that H couples (``coupled``) need an eigenbasis: on the others
        H_eff is diagonal and R is the identity. ``propagator`` chooses how the
        coupled block is propagated between events: ``"eigen"`` (phases in the
        eigenbasis, accurate to ~1e-16 of the block's largest amplitude) or
        ``"taylor"`` (``propagation.taylor_propagate``, accurate for every amplitude
        relative to its own size; slower).
        """
        if propagator not in PROPAGATORS:
            raise ValueError(f"propagator={propagator!r} must be one of {PROPAGATORS}")
        ch = local_channels(model)
        G = ch.decay(model.machine.dims)
        H = model.hamiltonian(interaction_picture)
        C = coupled_levels(H)
        uniform = np.ptp(G) <= 1e-14 * max(G.max(), 1e-300)
        lam = np.diag(H).real - 0.5j * G
        block = H[np.ix_(C, C)]
        generator = -1j * block - (0 if uniform else 0.5 * np.diag(G[C]))
        lam[C], R_C, R_inv_C, exact = _coupled_eigensystem(
            block, G[C], G.mean() if uniform else None
        )
        R = np.eye(H.shape[0], dtype=complex)
        R[np.ix_(C, C)] = R_C
        return cls(
            model.machine.dims,
            ch,
            lam,
            R,
            R.conj().T @ R,
            float(G.mean()) if uniform else None,
            C,
            R_C,
            R_inv_C,
            G,
            np.ascontiguousarray(generator, dtype=complex),
            propagator,
            exact,
        )

    def evolve(
        self, psi: NDArray[np.complex128], s: NDArray[np.float64]
    ) -> NDArray[np.complex128]:
        """exp(-i H_eff s) psi for states (n, D) in the joint basis, s (n,).

        Only the coupled block is transformed to eigen-coordinates; the other levels
        get a phase, or a real decay factor when their eigenvalue is imaginary. For the
        reset model the common decay exp(-(p_A + p_B) s / 2) is left out (the event
        loop keeps it in the jump clock).
        """
        out = np.array(psi, dtype=complex, order="C")
        self.evolve_inplace(out, np.asarray(s, dtype=float))
        return out

    def evolve_inplace(
        self, psi: NDArray[np.complex128], s: NDArray[np.float64]
    ) -> None:
        """``evolve`` overwriting psi (a C-contiguous complex array (n, D))."""
        self.evolve_plan.evolve(psi, s)

    def evolve_pass(
        self,
        psi: NDArray[np.complex128],
        s: NDArray[np.float64],
        motion: Motion | None,
    ) -> None:
        """``evolve_inplace`` of the rows that move (all if ``motion`` is None); the
        frozen rows keep their state, off by the factor exp(-rate s / 2)."""
        plan = self.evolve_plan
        if motion is None:
            plan.evolve(psi, s)
            return
        for rows, move in (
            (motion.coupled, plan.evolve),
            (motion.decaying, plan.apply_decay),
        ):
            if rows.size:
                sub = psi[rows]
                move(sub, s[rows])
                psi[rows] = sub

    @functools.cached_property
    def evolve_plan(self) -> EvolvePlan:
        """The precomputed pieces of ``evolve_inplace``."""
        return EvolvePlan.build(
            self.lam,
            self.uniform_rate is not None,
            (self.coupled, self.uncoupled),
            (self.R_block, self.R_inv_block),
            self.generator if self.propagator == "taylor" else None,
            self.exact_block,
        )

    @functools.cached_property
    def jump_tables(self) -> JumpTables:
        """Tables of ``jumps.jump_states``."""
        return JumpTables.build(self.dims, self.channels)

    @functools.cached_property
    def clock_tables(self) -> ClockTables:
        """Tables of ``jump_times.clock_jump_times`` (non-uniform decay only)."""
        blocks = (self.coupled, self.uncoupled)
        return ClockTables.build(self.decay, blocks, self.block_heff)

    def norm_sq_after(
        self, psi: NDArray[np.complex128], s: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """||exp(-i H_eff s) psi||^2 and <G> there, without forming phases of the
        uncoupled levels (their weights just decay as exp(-G s))."""
        p = np.abs(psi) ** 2
        U = self.uncoupled
        pu = p[:, U] * np.exp(-s[:, None] * self.decay[U][None, :])
        n, g = pu.sum(axis=1), pu @ self.decay[U]
        if self.coupled.size:
            C = self.coupled
            pc = np.abs(self._propagate_block(psi[:, C], s)) ** 2
            n, g = n + pc.sum(axis=1), g + pc @ self.decay[C]
        return n, g

    @functools.cached_property
    def uncoupled(self) -> NDArray[np.int64]:
        """Levels outside the coupled block."""
        mask = np.ones(self.lam.size, dtype=bool)
        mask[self.coupled] = False
        return np.flatnonzero(mask)

    @functools.cached_property
    def omega(self) -> NDArray[np.float64]:
        """E_m - E_n of the (Hermitian) eigenvalues, (D, D) (computed once)."""
        E = self.lam.real
        return E[:, None] - E[None, :]

    @functools.cached_property
    def degenerate(self) -> NDArray[np.float64]:
        """1 where omega_mn = 0 exactly, else 0."""
        return (self.omega == 0).astype(float)

    @functools.cached_property
    def near_degenerate(self) -> list[tuple[int, int]]:
        """Pairs with 0 < |omega| < 1e-6 max|E| (+ 1e-12), integrated with expm1."""
        cut = 1e-6 * np.abs(self.lam.real).max() + 1e-12
        w = np.abs(self.omega)
        return [tuple(p) for p in np.argwhere((w > 0) & (w < cut))]

    @functools.cached_property
    def inv_omega(self) -> NDArray[np.complex128]:
        """i / omega_mn where omega_mn is not (near) zero, else 0."""
        out = np.zeros(self.omega.shape, dtype=complex)
        mask = self.degenerate == 0
        for m, n in self.near_degenerate:
            mask[m, n] = False
        out[mask] = 1j / self.omega[mask]
        return out

    @property
    def dim(self) -> int:
        """Joint dimension D."""
        return self.dims[0] * self.dims[1]

    def to_coords(self, psi: NDArray[np.complex128]) -> NDArray[np.complex128]:
        """Eigen-coordinates c = R^-1 psi of states psi (n, D)."""
        c = psi.copy()
        c[:, self.coupled] = psi[:, self.coupled] @ self.R_inv_block.T
        return c

    def norm_sq(self, c: NDArray[np.complex128]) -> NDArray[np.float64]:
        """||R c||^2 for coordinates (n, D)."""
        if self.uniform_rate is not None:  # R unitary
            return np.einsum("ni,ni->n", c.conj(), c).real
        return np.einsum("ni,ij,nj->n", c.conj(), self.metric, c).real

    def propagate(
        self, c: NDArray[np.complex128], s: NDArray[np.float64]
    ) -> NDArray[np.complex128]:
        """exp(-i H_eff s) in coordinates: c_m exp(-i lam_m s), s (n,).

        For the reset model the common decay exp(-(p_A + p_B) s / 2) is left out: the
        state stays normalised (the event loop keeps the decay in the jump clock).
        """
        lam = self.lam.real if self.uniform_rate is not None else self.lam
        out = c * np.exp(-1j * s[:, None] * lam[None, :])
        if self.exact_block is not None:  # coordinates are the joint basis there
            out[:, self.coupled] = self.exact_block.apply(c[:, self.coupled], s)
        return out

    def _propagate_block(
        self, psi_C: NDArray[np.complex128], s: NDArray[np.float64]
    ) -> NDArray[np.complex128]:
        """exp(-i H_eff s) on the coupled block, states (n, |C|) in the joint basis."""
        if self.exact_block is not None:
            return self.exact_block.apply(psi_C, s)
        cC = psi_C @ self.R_inv_block.T
        cC *= np.exp(-1j * s[:, None] * self.lam[self.coupled][None, :])
        return cC @ self.R_block.T

    @functools.cached_property
    def block_heff(self) -> NDArray[np.complex128]:
        """The coupled block of H_eff (|C|, |C|)."""
        if self.exact_block is not None:
            return self.exact_block.H
        return (self.R_block * self.lam[self.coupled]) @ self.R_inv_block

    def coords_to_density(self, A: NDArray[np.complex128]) -> NDArray[np.complex128]:
        """R A R^dag: a matrix in eigen-coordinates (n, D, D) to the joint basis."""
        return self.R @ A @ self.R.conj().T
