"""Arrays and pure kernels of the quantum-jump unravelling (exact between jumps).

Every jump operator of the package's models is local and has one nonzero element,
``L = c |i><j|`` on system A or B (the Kraus jumps sqrt(p w_i)|i><j| of the reset model,
Eq. 4, and the thermal and dephasing jumps of Eqs. F9-F12). Between jumps a trajectory
evolves under H_eff = H - i/2 G with G = sum_k L_k^dag L_k diagonal:

* reset model: G = (p_A + p_B) 1, so the norm decays as exp(-(p_A + p_B) t) whatever the
  state: jump times are a Poisson process and the normalised evolution is unitary;
* Lindblad model: the jump time solves ||exp(-i H_eff t) psi||^2 = r exactly (Newton on
  the log-norm with a bisection bracket, to 1e-13 relative).

States are kept in eigen-coordinates, psi = R c with H_eff = R diag(lam) R^-1, so free
evolution is a phase (or decay) per component. Near an exceptional point of H_eff the
eigenvectors of its coupled block are ill-conditioned (``COND_EXACT``); that block is
then propagated by ``BlockPropagator`` (exact dyadic propagators and a Taylor series)
in the joint basis (R = 1 there). The channel of a jump is drawn with
probability proportional to ||L_k psi||^2.

The event loop (``unravel.run_chunk``) uses the fused kernels ``clock_jump_times``
(jump times from exponential clocks E = -log r), ``Unravelling.evolve_inplace`` and
``jump_states`` (the channel choice in two stages, equal in law to the choice by
``channel_weights``, and the jump, normalised with the weight of the chosen channel);
the separate kernels below are their reference definitions.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
from numpy.typing import NDArray

from trajectories.engine.propagation import taylor_propagate
from trajectories.system.models import OpenSystem

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(12)
PROPAGATORS = ("eigen", "taylor")
"""How the coupled block is propagated between events (``Unravelling.from_model``)."""
COND_EXACT = 100.0
"""Eigenvector condition number of the coupled block of H_eff from which the block is
propagated by ``BlockPropagator`` rather than in its eigenbasis. The eigenbasis path
adds a relative error of up to ~2.5e-16 cond (measured near the exceptional points of
the qubit-qubit and qutrit machines: 1.6e-13 at cond 1.4e3, 1e-8 at the point
itself); below 100 this part stays under ~3e-14, inside the 1e-13 promised for the
norm decay and the jump times. The Fig. 5(b) grid (cond <= 61) keeps the eigenbasis."""


class BlockPropagator:
    """exp(-i H s) psi for a small non-normal block H (k, k) and many steps s at once,
    without eigenvectors: accurate to rounding at and near exceptional points.

    Each step is split exactly in floating point as s = sum_j b_j 2^j h + r, b_j in
    {0, 1}, 0 <= r < h, with h = 1/(2 ||H||_2). The dyadic propagators
    U_j = exp(-i H 2^j h) are U_0 from ``scipy.linalg.expm`` and U_{j+1} = U_j^2
    (scaling and squaring, computed once, as far as the steps require; a decayed U_j
    is 0, never NaN), and exp(-i H r) = sum_m (r/h)^m (-i h H)^m / m! is a Taylor
    polynomial of degree ``TAYLOR_TERMS`` (||r H|| <= 1/2: truncation below 1e-19).
    Measured against 40-digit references at exceptional points: relative error
    <= 2e-14 up to 30 decay times.
    """

    TAYLOR_TERMS = 16

    def __init__(self, H: NDArray[np.complex128]) -> None:
        self.H = np.array(H, dtype=complex)
        norm = float(np.linalg.norm(self.H, 2)) if self.H.size else 0.0
        self.h = 0.5 / norm if norm > 0 else math.inf
        self._dyadic_T: list[NDArray[np.complex128]] = []  # exp(-i H 2^j h)^T
        if norm > 0:
            self._terms = _power_series_terms(-1j * self.h * self.H, self.TAYLOR_TERMS)

    def _dyadic(self, n: int) -> list[NDArray[np.complex128]]:
        """The transposed propagators U_j^T of steps 2^j h, j = 0..n-1."""
        if n and not self._dyadic_T:
            U = la.expm(-1j * self.h * self.H)
            self._dyadic_T.append(np.ascontiguousarray(U.T))
        while len(self._dyadic_T) < n:
            UT = self._dyadic_T[-1]
            self._dyadic_T.append(UT @ UT)
        return self._dyadic_T[:n]

    def apply(
        self, psi: NDArray[np.complex128], s: NDArray[np.float64]
    ) -> NDArray[np.complex128]:
        """exp(-i H s_n) psi_n for states psi (n, k) and finite steps s (n,) >= 0."""
        out = np.array(psi, dtype=complex)
        if not math.isfinite(self.h) or out.size == 0:
            return out
        rest = np.array(s, dtype=float)
        n_bits = max(0, math.frexp(float(rest.max()) / self.h)[1])
        n_bits += math.ldexp(self.h, n_bits) <= rest.max()  # division rounded down
        for j, UT in reversed(list(enumerate(self._dyadic(n_bits)))):
            step = math.ldexp(self.h, j)
            take = np.flatnonzero(rest >= step)
            if take.size:
                out[take] = out[take] @ UT
                rest[take] -= step  # exact: step <= rest < 2 step (Sterbenz)
        return self._taylor(out, rest)

    def _taylor(
        self, psi: NDArray[np.complex128], r: NDArray[np.float64]
    ) -> NDArray[np.complex128]:
        """exp(-i H r_n) psi_n for 0 <= r_n < h: the Taylor matrices, then matvecs."""
        x = np.power.outer(r / self.h, np.arange(self.TAYLOR_TERMS + 1))
        k = psi.shape[1]
        U = (x @ self._terms).reshape(-1, k, k)
        return np.einsum("nij,nj->ni", U, psi)

    @property
    def rate(self) -> float:
        """||H - tr(H)/k||_2: how fast a normalised state can turn under H."""
        k = self.H.shape[0]
        return float(np.linalg.norm(self.H - np.trace(self.H) / k * np.eye(k), 2))


def _power_series_terms(A: NDArray[np.complex128], degree: int) -> NDArray:
    """A^m / m! for m = 0..degree, flattened: array (degree + 1, k * k)."""
    terms = [np.eye(A.shape[0], dtype=complex)]
    for m in range(1, degree + 1):
        terms.append(terms[-1] @ A / m)
    return np.stack(terms).reshape(degree + 1, -1)


def _coupled_eigensystem(
    block: NDArray[np.complex128],
) -> tuple[
    NDArray[np.complex128],
    NDArray[np.complex128],
    NDArray[np.complex128],
    BlockPropagator | None,
]:
    """(lam, R, R^-1, None) of the coupled block of H_eff, or (lam, 1, 1, its
    ``BlockPropagator``) when the eigenvector condition number reaches
    ``COND_EXACT`` (near, or at, an exceptional point)."""
    lam, R = la.eig(block)
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = float(np.linalg.cond(R)) if block.size else 1.0
    if cond < COND_EXACT:
        return lam, R, la.inv(R), None
    eye = np.eye(block.shape[0], dtype=complex)
    return lam, eye, eye, BlockPropagator(block)


@dataclass(frozen=True, eq=False)
class Channels:
    """Local one-element jumps L_k = sqrt(rate_k) |to_k><frm_k| on side ``bath_k``."""

    names: tuple[str, ...]
    bath: NDArray[np.int64]  # 0 = A, 1 = B
    to: NDArray[np.int64]
    frm: NDArray[np.int64]
    rate: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.names)


def _local_channels(model: OpenSystem) -> Channels:
    d_A, d_B = model.machine.dims
    names, bath, to, frm, rate = [], [], [], [], []
    for op in model.jump_operators():
        side = 0 if op.bath == "A" else 1
        i = op.rows[0] // d_B if side == 0 else op.rows[0] % d_B
        j = op.cols[0] // d_B if side == 0 else op.cols[0] % d_B
        c = op.vals[0]
        local = np.zeros((d_A, d_A) if side == 0 else (d_B, d_B), dtype=complex)
        local[i, j] = c
        full = np.kron(local, np.eye(d_B)) if side == 0 else np.kron(np.eye(d_A), local)
        if not np.allclose(op.op.toarray(), full, atol=0):
            raise ValueError(f"jump {op.name!r} is not a local single-element operator")
        names.append(op.name)
        bath.append(side)
        to.append(i)
        frm.append(j)
        rate.append(abs(c) ** 2)
    return Channels(
        tuple(names),
        np.array(bath, dtype=np.int64),
        np.array(to, dtype=np.int64),
        np.array(frm, dtype=np.int64),
        np.array(rate, dtype=float),
    )


@dataclass(frozen=True, eq=False)
class JumpTables:
    """Tables of the two-stage channel choice and of the jump action.

    A channel L_k = sqrt(rate_k) |to><frm| on one side has ||L_k psi||^2 = rate_k
    P_side(frm), with P_side the local population. Its *source* is (side, frm): there
    are S = d_A + d_B sources, source s of weight out_s P_side(frm) (out_s the summed
    rate of its channels), and given the source, channel k has probability
    rate_k / out_s whatever the state. Drawing the source, then the channel, is the
    choice with probability ||L_k psi||^2 / sum_k ||L_k psi||^2.
    """

    n_src: int
    pick: NDArray[np.float64]  # (D, 2 S + 1): cumulative weights | populations | 1
    cdf: NDArray[np.float64]  # (S, Q): cumulative channel probabilities per source
    chan: NDArray[np.int64]  # (S, Q): the channels of each source
    src: NDArray[np.int64]  # (S, L): joint-basis indices read by a jump of source s
    dst: NDArray[np.int64]  # (K, L): joint-basis indices written by channel k

    @classmethod
    def build(cls, dims: tuple[int, int], ch: Channels) -> JumpTables:
        """Tables for local dimensions ``dims`` and channels ``ch``."""
        d_A, d_B = dims
        D, S = d_A * d_B, d_A + d_B
        source = np.where(ch.bath == 0, ch.frm, d_A + ch.frm)
        out = np.bincount(source, weights=ch.rate, minlength=S)
        pops = np.zeros((D, S))
        a, b = np.divmod(np.arange(D), d_B)
        pops[np.arange(D), a] = 1.0
        pops[np.arange(D), d_A + b] = 1.0
        cum = (pops * out) @ np.triu(np.ones((S, S)))
        pick = np.hstack([cum, pops, np.ones((D, 1))])
        members = [np.flatnonzero(source == s) for s in range(S)]
        Q = max(1, *(k.size for k in members))
        cdf, chan = np.ones((S, Q)), np.zeros((S, Q), dtype=np.int64)
        for s, k in enumerate(members):
            if k.size:
                total = ch.rate[k].sum()
                c = np.cumsum(ch.rate[k]) / total if total > 0 else np.ones(k.size)
                c[-1] = 1.0
                cdf[s, : k.size], chan[s, : k.size], chan[s, k.size :] = c, k, k[-1]
        # a jump of side A from level j reads row j of psi (d_A, d_B) and writes row
        # to; side B reads and writes columns. Index lists are padded to L entries
        # by repeating their last one (the same value is written twice).
        L = max(d_A, d_B)

        def line(side: int, level: int) -> NDArray[np.int64]:
            idx = level * d_B + np.arange(d_B) if side == 0 else np.arange(d_A) * d_B
            idx = idx if side == 0 else idx + level
            return np.concatenate([idx, np.full(L - idx.size, idx[-1])])

        src = np.array(
            [line(0, j) for j in range(d_A)] + [line(1, j) for j in range(d_B)]
        )
        dst = np.array(
            [line(int(b), int(i)) for b, i in zip(ch.bath, ch.to, strict=True)]
        ).reshape(len(ch), L)
        return cls(S, pick, cdf, chan, src, dst)


@dataclass(frozen=True, eq=False)
class ClockTables:
    """Tables of ``clock_jump_times`` for a model with a non-uniform decay G.

    The levels outside the coupled block are grouped by their decay rate (equal to
    1e-14 relative); a state whose population lies in one such group alone decays as
    exp(-G s) (closed form), any other state needs the root finding.
    """

    start: NDArray[np.float64]  # (D, n_groups + 2): group indicators | G | 1
    n_groups: int
    coupled_group: int  # column of the coupled block in ``start``, or -1
    bound: float  # max |d^2/ds^2 log ||psi(s)||^2| over all states

    @classmethod
    def build(cls, unr: Unravelling) -> ClockTables:
        """Tables for ``unr``."""
        G, U, C = unr.decay, unr.uncoupled, unr.coupled
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
            H_C = unr.block_heff + 0.5j * np.diag(g)
            K = 1j * (H_C * g[None, :] - g[:, None] * H_C)
            bound += np.linalg.norm(K, 2)
        return cls(start, len(groups), len(groups) - 1 if C.size else -1, bound)


@dataclass(frozen=True)
class _EvolvePlan:
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
class Unravelling:
    """Precomputed arrays of a model for the jump engine.

    Attributes
    ----------
    dims, channels
        Local dimensions and the jump channels.
    lam, R, R_inv
        Eigenvalues and eigenvectors of H_eff (R unitary for the reset model).
    metric
        R^dag R, so that ||psi||^2 = c^dag metric c.
    uniform_rate
        The constant total jump rate when G is a multiple of 1 (reset model), else None.
    exact_block
        The ``BlockPropagator`` of the coupled block when its eigenvectors are
        ill-conditioned (``COND_EXACT``); R is then 1 on the block.
    """

    dims: tuple[int, int]
    channels: Channels
    lam: NDArray[np.complex128]
    R: NDArray[np.complex128]
    R_inv: NDArray[np.complex128]
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
        ``"taylor"`` (``graded_propagation``, accurate for every amplitude relative to
        its own size; slower).
        """
        if propagator not in PROPAGATORS:
            raise ValueError(f"propagator={propagator!r} must be one of {PROPAGATORS}")
        ch = _local_channels(model)
        d_A, d_B = model.machine.dims
        G = np.zeros((d_A, d_B))
        for b, j, r in zip(ch.bath, ch.frm, ch.rate, strict=True):
            if b == 0:
                G[j, :] += r
            else:
                G[:, j] += r
        G = G.ravel()
        H = model.hamiltonian(interaction_picture)
        D = H.shape[0]
        off = H - np.diag(np.diag(H))
        C = np.flatnonzero(np.any(off != 0, axis=0) | np.any(off != 0, axis=1))
        uniform = np.ptp(G) <= 1e-14 * max(G.max(), 1e-300)
        lam = np.diag(H).real - 0.5j * G
        block = H[np.ix_(C, C)]
        generator = -1j * block - (0 if uniform else 0.5 * np.diag(G[C]))
        if uniform:
            E, R_C = la.eigh(block)
            lam_C, R_inv_C = E - 0.5j * G.mean(), R_C.conj().T
            exact = None
        else:
            lam_C, R_C, R_inv_C, exact = _coupled_eigensystem(
                block - 0.5j * np.diag(G[C])
            )
        lam[C] = lam_C
        R, R_inv = np.eye(D, dtype=complex), np.eye(D, dtype=complex)
        R[np.ix_(C, C)], R_inv[np.ix_(C, C)] = R_C, R_inv_C
        return cls(
            (d_A, d_B),
            ch,
            lam,
            R,
            R_inv,
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
        reset model the common decay exp(-(p_A + p_B) s / 2) is left out (``rebase``).
        """
        out = np.array(psi, dtype=complex, order="C")
        self.evolve_inplace(out, np.asarray(s, dtype=float))
        return out

    def evolve_inplace(
        self, psi: NDArray[np.complex128], s: NDArray[np.float64]
    ) -> None:
        """``evolve`` overwriting psi (a C-contiguous complex array (n, D))."""
        plan = self._evolve_plan
        if plan.C is not None and self.propagator == "taylor":
            psi[:, plan.C] = taylor_propagate(self.generator, psi[:, plan.C], s)
        elif plan.C is not None and self.exact_block is not None:
            psi[:, plan.C] = self.exact_block.apply(psi[:, plan.C], s)
        elif plan.C is not None:
            cC = psi[:, plan.C] @ plan.R_inv_T
            if plan.freq is None:
                cC *= np.exp(np.multiply.outer(s, plan.phase_C))
            else:  # real eigenvalues +-w: one cos and sin per frequency w
                x = np.multiply.outer(s, plan.freq)
                z = np.empty(x.shape, dtype=complex)
                np.cos(x, out=z.real)
                np.sin(x, out=z.imag)  # z = exp(i w s)
                for col, (j, sign) in enumerate(plan.use):
                    if sign > 0:
                        cC[:, col] *= z[:, j].conj()
                    elif sign < 0:
                        cC[:, col] *= z[:, j]
            psi[:, plan.C] = cC @ plan.R_T
        if plan.decay is not None:  # real factors on all levels (1 where none)
            f = np.exp(np.multiply.outer(s, plan.decay))
            psi.view(np.float64).reshape(*psi.shape, 2)[...] *= f[:, :, None]
        elif plan.rest is not None:
            psi[:, plan.rest] *= np.exp(np.multiply.outer(s, plan.phase_rest))

    def evolve_pass(
        self,
        psi: NDArray[np.complex128],
        s: NDArray[np.float64],
        motion: Motion | None,
    ) -> None:
        """``evolve_inplace`` of the rows that move (all if ``motion`` is None); the
        frozen rows keep their state, off by the factor exp(-rate s / 2)."""
        if motion is None:
            self.evolve_inplace(psi, s)
            return
        if motion.coupled.size:
            rows = motion.coupled
            sub = psi[rows]
            self.evolve_inplace(sub, s[rows])
            psi[rows] = sub
        if motion.decaying.size:
            rows = motion.decaying
            sub = psi[rows]
            f = np.exp(np.multiply.outer(s[rows], self._evolve_plan.decay))
            sub.view(np.float64).reshape(*sub.shape, 2)[...] *= f[:, :, None]
            psi[rows] = sub

    @functools.cached_property
    def _evolve_plan(self) -> _EvolvePlan:
        C = self.coupled
        rest, lam_rest = self._diagonal_levels
        decay = phase_rest = None
        if rest.size and np.all(lam_rest.real == 0):
            decay = np.zeros(self.dim)
            decay[rest] = lam_rest.imag
        elif rest.size:
            phase_rest = -1j * lam_rest
        freq, use = (
            _frequencies(self.lam[C].real)
            if self.uniform_rate is not None
            else (None, ())
        )
        return _EvolvePlan(
            _index(C) if C.size else None,
            np.ascontiguousarray(self.R_inv_block.T),
            np.ascontiguousarray(self.R_block.T),
            -1j * self._lam_eff[C],
            freq,
            use,
            decay,
            _index(rest) if phase_rest is not None else None,
            phase_rest,
            phase_rest is None,
        )

    @functools.cached_property
    def jump_tables(self) -> JumpTables:
        """Tables of ``jump_states``."""
        return JumpTables.build(self.dims, self.channels)

    @functools.cached_property
    def clock_tables(self) -> ClockTables:
        """Tables of ``clock_jump_times`` (non-uniform decay only)."""
        return ClockTables.build(self)

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
    def _lam_eff(self) -> NDArray[np.complex128]:
        """Eigenvalues used by ``evolve`` (real parts only for the reset model)."""
        return self.lam.real + 0j if self.uniform_rate is not None else self.lam

    @functools.cached_property
    def uncoupled(self) -> NDArray[np.int64]:
        """Levels outside the coupled block."""
        mask = np.ones(self.lam.size, dtype=bool)
        mask[self.coupled] = False
        return np.flatnonzero(mask)

    @functools.cached_property
    def _diagonal_levels(self) -> tuple[NDArray[np.int64], NDArray[np.complex128]]:
        """Uncoupled levels whose eigenvalue is not zero, and those eigenvalues."""
        lam = self._lam_eff
        rest = self.uncoupled[lam[self.uncoupled] != 0]
        return rest, lam[rest]

    @property
    def omega(self) -> NDArray[np.float64]:
        """E_m - E_n of the (Hermitian) eigenvalues, (D, D)."""
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

    def to_states(self, c: NDArray[np.complex128]) -> NDArray[np.complex128]:
        """States psi = R c (n, D) from eigen-coordinates."""
        psi = c.copy()
        psi[:, self.coupled] = c[:, self.coupled] @ self.R_block.T
        return psi

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
        state stays normalised and ``rebase`` accounts for the decay in r.
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

    def rebase(
        self,
        psi: NDArray[np.complex128],
        r: NDArray[np.float64],
        s: NDArray[np.float64],
    ) -> tuple[NDArray[np.complex128], NDArray[np.float64]]:
        """After a jump-free interval s: the normalised state (n, D) and the jump
        threshold r relative to it (memoryless: r / ||psi(s)||^2)."""
        if self.uniform_rate is not None:
            return psi, r * np.exp(self.uniform_rate * s)
        n = np.einsum("ni,ni->n", psi.conj(), psi).real
        return psi / np.sqrt(n)[:, None], r / n

    def coords_to_density(self, A: NDArray[np.complex128]) -> NDArray[np.complex128]:
        """R A R^dag: a matrix in eigen-coordinates (n, D, D) to the joint basis."""
        return self.R @ A @ self.R.conj().T


def jump_times(
    unr: Unravelling,
    psi: NDArray[np.complex128],
    r: NDArray[np.float64],
    horizon: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Time s in [0, horizon) at which ||exp(-i H_eff s) psi||^2 = r, or inf if the
    squared norm at ``horizon`` is still above r (no jump in the interval).

    ``psi`` (n, D) are the current (normalised) states.
    """
    with np.errstate(divide="ignore"):
        E = -np.log(np.asarray(r, dtype=float))
    psi = np.ascontiguousarray(psi, dtype=complex)
    return clock_jump_times(unr, psi, E, np.asarray(horizon, dtype=float))


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


def clock_jump_times(
    unr: Unravelling,
    psi: NDArray[np.complex128],
    E: NDArray[np.float64],
    horizon: NDArray[np.float64],
    tol: float = 1e-13,
) -> NDArray[np.float64]:
    """Jump times from exponential clocks: the s in [0, horizon) at which
    ||exp(-i H_eff s) psi||^2 = exp(-E), else inf (the norm is still above exp(-E) at
    the horizon, or E = inf).

    ``psi`` (n, D) are normalised states (C-contiguous). The reset model's norm decays
    as exp(-(p_A + p_B) s); a state on levels outside the coupled block that share one
    decay rate G jumps at E / G; the others need ``_solve_clock``.
    """
    return clock_pass(unr, psi, E, horizon, tol)[0]


def clock_pass(
    unr: Unravelling,
    psi: NDArray[np.complex128],
    E: NDArray[np.float64],
    horizon: NDArray[np.float64],
    tol: float = 1e-13,
) -> tuple[NDArray[np.float64], Motion | None]:
    """``clock_jump_times`` and the ``Motion`` of the states (None: evolve all)."""
    if unr.uniform_rate is not None:
        if unr.uniform_rate == 0:
            return np.full(E.shape, np.inf), None
        s = E / unr.uniform_rate
        return np.where(s < horizon, s, np.inf), None
    tab = unr.clock_tables
    p = psi.real**2 + psi.imag**2
    st = p @ tab.start
    groups = st[:, : tab.n_groups] > 0
    simple = groups @ np.ones(tab.n_groups) == 1
    coupled = groups[:, tab.coupled_group] if tab.coupled_group >= 0 else None
    if coupled is not None:
        simple &= ~coupled
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = st[:, -2] / st[:, -1]
        s = E / rate
    out = np.where(simple & (s < horizon), s, np.inf)
    moving = ~simple & (horizon > 0)
    if coupled is None:
        rows_c, rows_u = np.zeros(0, dtype=np.int64), np.flatnonzero(moving)
    else:
        rows_c = np.flatnonzero(moving & coupled)
        rows_u = np.flatnonzero(moving & ~coupled)
    for rows in (rows_c, rows_u):
        if rows.size:
            out[rows] = _solve_clock(
                unr, psi[rows], p[rows], st[rows, -2:], -E[rows], horizon[rows], tol
            )
    if not unr._evolve_plan.frozen_ok:
        return out, None
    return out, Motion(simple, rate, rows_c, rows_u)


def _log_norm(
    unr: Unravelling, psi: NDArray[np.complex128], s: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """log ||exp(-i H_eff s) psi||^2 and its s-derivative -<G>, for normalised psi."""
    n, g = unr.norm_sq_after(psi, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(n), -g / n


class _NormDecay:
    """||exp(-i H_eff s) psi||^2 of fixed states (m, D) at times s: the levels outside
    the coupled block decay as exp(-G s), the coupled block is evolved in
    eigen-coordinates (computed once)."""

    def __init__(self, unr: Unravelling, psi, p) -> None:
        U, C = unr.uncoupled, unr.coupled
        used = np.flatnonzero((p[:, U] > 0).any(axis=0))
        self.pU, self.GU = p[:, U[used]], unr.decay[U[used]]
        self.wU = np.stack([np.ones(used.size), self.GU], axis=1)
        self.cC = None
        self.exact = unr.exact_block
        if C.size and (p[:, C] > 0).any():
            plan = unr._evolve_plan
            self.cC = psi[:, plan.C] @ plan.R_inv_T  # psi itself if ``exact``
            self.phase, self.R_T = -1j * unr.lam[C], plan.R_T
            self.wC = np.stack([np.ones(C.size), unr.decay[C]], axis=1)

    def __call__(self, rows, s):
        """log ||psi(s)||^2 and its derivative -<G> for states ``rows`` (all if
        None)."""
        pU = self.pU if rows is None else self.pU[rows]
        a = (pU * np.exp(np.multiply.outer(s, -self.GU))) @ self.wU
        if self.cC is not None:
            cC = self.cC if rows is None else self.cC[rows]
            if self.exact is not None:
                y = self.exact.apply(cC, s)
            else:
                y = (cC * np.exp(np.multiply.outer(s, self.phase))) @ self.R_T
            a += (y.real**2 + y.imag**2) @ self.wC
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(a[:, 0]), -a[:, 1] / a[:, 0]


def _solve_clock(unr, psi, p, st0, log_r, horizon, tol: float = 1e-13):
    """Safeguarded Newton on f(s) = log ||psi(s)||^2 - log r for s in [0, horizon),
    where f decreases monotonically (f' = -<psi|G|psi>/<psi|psi>); inf where f stays
    positive up to the horizon. ``st0`` holds (<G>, norm^2) at s = 0 (unnormalised).

    Converged when |f| <= ``tol`` (relative accuracy of the norm) at an evaluated
    point, or when a Newton step delta satisfies B delta^2 / 2 <= tol, B the bound on
    |f''| (``ClockTables.bound``): then |f| <= tol at the new point by Taylor's
    theorem. Also stops when the step is below ``tol`` relative, or the bracket has
    shrunk to rounding. The horizon is evaluated only if the iteration gets there.
    """
    B = unr.clock_tables.bound
    norm = _NormDecay(unr, psi, p)
    m = log_r.size
    lo, hi = np.zeros(m), horizon.astype(float)
    hi_ok = np.zeros(m, dtype=bool)  # f(hi) <= 0 was evaluated
    with np.errstate(divide="ignore", invalid="ignore"):
        f0 = np.log(st0[:, 1]) - log_r
        s = np.clip(f0 * st0[:, 1] / st0[:, 0], 0.0, hi)  # Newton step from s = 0
    out = np.full(m, np.inf)
    s[~np.isfinite(s)] = hi[~np.isfinite(s)]
    todo = np.arange(m)
    for _ in range(200):
        st = s[todo]
        f, df = norm(None if todo.size == m else todo, st)
        f -= log_r[todo]
        below = f <= 0
        lo_t = lo[todo] = np.where(below, lo[todo], st)
        hi_t = hi[todo] = np.where(below, st, hi[todo])
        ok = hi_ok[todo] = hi_ok[todo] | below
        miss = ~ok & (st >= hi_t)  # f > 0 at the horizon: no jump before it
        with np.errstate(divide="ignore", invalid="ignore"):
            new = st - f / df
        inside = (new >= lo_t) & (new <= hi_t)
        # outside the bracket: bisect, or test the horizon while f(hi) is unknown
        new = np.where(inside, new, np.where(ok, 0.5 * (lo_t + hi_t), hi_t))
        converged = np.abs(f) <= tol
        bounded = inside & (0.5 * B * (new - st) ** 2 <= tol)
        new = np.where(converged, st, new)
        done = (
            converged
            | bounded
            | miss
            | (inside & (np.abs(new - st) <= tol * np.maximum(new, 1e-300)))
            | (ok & (hi_t - lo_t <= 4e-16 * hi_t))
        )
        s[todo] = new
        hit = todo[done & ~miss]
        out[hit] = s[hit]
        todo = todo[~done]
        if todo.size == 0:
            return out
    raise FloatingPointError("jump-time root finding did not converge")


def _solve_log_norm(unr, psi, log_r, hi, tol: float = 1e-13):
    """The s in [0, hi] with log ||psi(s)||^2 = log_r for normalised psi (n, D) (a
    root is assumed: ``hi`` is returned if there is none below it)."""
    psi = np.ascontiguousarray(psi, dtype=complex)
    p = psi.real**2 + psi.imag**2
    st0 = p @ np.stack([unr.decay, np.ones(unr.dim)], axis=1)
    s = _solve_clock(unr, psi, p, st0, log_r, hi, tol)
    return np.where(np.isfinite(s), s, hi)


def segment_density_integral(
    unr: Unravelling, c: NDArray[np.complex128], s: NDArray[np.float64]
) -> NDArray[np.complex128]:
    """integral_0^s c(u) c(u)^dag / ||psi(u)||^2 du in eigen-coordinates, (n, D, D);
    ``Unravelling.coords_to_density`` maps it to the integral of psi psi^dag.

    Closed form for the reset model (unitary between jumps): with P(u) = c(u) c(u)^dag
    and omega = E_m - E_n, integral_0^s P_mn(u) du = i (P_mn(s) - P_mn(0)) / omega_mn,
    or s P_mn(0) where omega_mn = 0 (near-degenerate pairs use the expm1 form, which
    keeps full relative precision). Otherwise Gauss-Legendre quadrature (12 nodes) on
    sub-intervals short enough that the integrand varies by at most ~2 e-folds or
    radians on each (error < 1e-13).
    """
    if unr.uniform_rate is not None:  # c is normalised
        cs = unr.propagate(c, s)
        P0 = c[:, :, None] * c[:, None, :].conj()
        out = (cs[:, :, None] * cs[:, None, :].conj() - P0) * unr.inv_omega
        out += P0 * (unr.degenerate * s[:, None, None])
        for m, n in unr.near_degenerate:
            x = s * unr.omega[m, n]
            out[:, m, n] = P0[:, m, n] * s * (-np.expm1(-1j * x) / (1j * x))
        return out
    # the normalised state varies at rates |lam_m - lam_n| over its nonzero components
    present = c != 0
    spread = [
        np.where(present, part, -np.inf).max(axis=1)
        - np.where(present, part, np.inf).min(axis=1)
        for part in (unr.lam.real, unr.lam.imag)
    ]
    scale = np.hypot(*spread)
    if unr.exact_block is not None:  # the joint basis turns at up to this rate
        scale = np.maximum(scale, 2.0 * unr.exact_block.rate)
    n_sub = np.clip(np.ceil(s * scale / 2.0), 1, None).astype(np.int64)
    out = np.zeros((c.shape[0], unr.dim, unr.dim), dtype=complex)
    h = s / n_sub
    for k in range(int(n_sub.max())):
        live = np.flatnonzero(k < n_sub)
        for x, w in zip(_GL_NODES, _GL_WEIGHTS, strict=True):
            u = h[live] * (k + 0.5 * (x + 1.0))
            cu = unr.propagate(c[live], u)
            cu /= np.sqrt(unr.norm_sq(cu))[:, None]
            out[live] += (0.5 * w * h[live])[:, None, None] * (
                cu[:, :, None] * cu[:, None, :].conj()
            )
    return out


def channel_weights(
    unr: Unravelling, psi: NDArray[np.complex128]
) -> NDArray[np.float64]:
    """||L_k psi||^2 for every channel k and state psi (n, D): array (n, K)."""
    d_A, d_B = unr.dims
    p = np.abs(psi.reshape(-1, d_A, d_B)) ** 2
    pops = (p.sum(axis=2), p.sum(axis=1))  # local populations of A and B
    ch = unr.channels
    W = np.empty((psi.shape[0], len(ch)))
    for side in (0, 1):
        mask = ch.bath == side
        W[:, mask] = pops[side][:, ch.frm[mask]] * ch.rate[mask]
    return W


def choose_channels(
    weights: NDArray[np.float64], u: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Inverse-CDF choice: the k with cum_{k-1} <= u * total < cum_k, per row."""
    cum = np.cumsum(weights, axis=1)
    k = (cum < (u * cum[:, -1])[:, None]).sum(axis=1)
    return np.minimum(k, weights.shape[1] - 1)


def apply_jumps(
    unr: Unravelling, psi: NDArray[np.complex128], k: NDArray[np.int64]
) -> NDArray[np.complex128]:
    """Normalised L_k psi / ||L_k psi|| for channel k of each state (n, D)."""
    d_A, d_B = unr.dims
    n = psi.shape[0]
    p3 = psi.reshape(n, d_A, d_B)
    out = np.zeros_like(p3)
    ch = unr.channels
    for side in (0, 1):
        idx = np.flatnonzero(ch.bath[k] == side)
        to, frm = ch.to[k[idx]], ch.frm[k[idx]]
        if side == 0:
            out[idx, to, :] = p3[idx, frm, :]
        else:
            out[idx, :, to] = p3[idx, :, frm]
    out = out.reshape(n, d_A * d_B)
    return out / np.linalg.norm(out, axis=1)[:, None]


def jump_states(
    unr: Unravelling,
    psi: NDArray[np.complex128],
    u: NDArray[np.float64],
    pq: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.complex128], NDArray[np.int64]]:
    """Draw a channel k for each state psi (n, D) with probability
    ||L_k psi||^2 / sum_k ||L_k psi||^2 and apply it: the states L_k psi / ||L_k psi||
    and k. Equal in law to ``choose_channels(channel_weights(...))`` then
    ``apply_jumps``, in two stages (``JumpTables``): the source with the uniforms
    u[:, 0], then the channel with u[:, 1] (u in [0, 1)). The norm of L_k psi comes
    from the population of the source level, not from a separate norm.

    ``psi`` must be C-contiguous; ``pq`` is |psi|^2 @ ``jump_tables.pick`` if already
    computed. A state of total weight 0 gets a non-finite result.
    """
    tab = unr.jump_tables
    S = tab.n_src
    n, D = psi.shape
    if pq is None:
        pq = (psi.real**2 + psi.imag**2) @ tab.pick
    v = u[:, 0] * pq[:, S - 1]
    g = (pq[:, 0] <= v).astype(np.intp)
    for q in range(1, S - 1):
        g += pq[:, q] <= v
    Q = tab.cdf.shape[1]
    if Q > 1:
        cdf = np.take(tab.cdf, g, axis=0)
        q2 = (cdf[:, 0] <= u[:, 1]).astype(np.intp)
        for q in range(1, Q - 1):
            q2 += cdf[:, q] <= u[:, 1]
        k = np.take(tab.chan.ravel(), g * Q + q2)
    else:
        k = np.take(tab.chan[:, 0], g)
    rows = np.arange(n)
    pop = np.take(pq.ravel(), rows * pq.shape[1] + (S + g))
    base = (rows * D)[:, None]
    vals = np.take(psi.ravel(), base + np.take(tab.src, g, axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        vals *= (1.0 / np.sqrt(pop))[:, None]
    out = np.zeros((n, D), dtype=complex)
    out.ravel()[base + np.take(tab.dst, k, axis=0)] = vals
    return out, k
