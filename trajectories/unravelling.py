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
evolution is a phase (or decay) per component. The channel of a jump is drawn with
probability proportional to ||L_k psi||^2.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
from numpy.typing import NDArray

from trajectories.models import OpenSystem

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(12)
COND_MAX = 1e8
"""Largest condition number of the H_eff eigenvector matrix accepted."""


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

    @classmethod
    def from_model(
        cls, model: OpenSystem, interaction_picture: bool = True
    ) -> Unravelling:
        """Diagonalise H_eff of ``model`` (H_int alone in the interaction picture).

        Only the levels that H couples (``coupled``) need an eigenbasis: on the others
        H_eff is diagonal and R is the identity.
        """
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
        if uniform:
            E, R_C = la.eigh(block)
            lam_C, R_inv_C = E - 0.5j * G.mean(), R_C.conj().T
        else:
            lam_C, R_C = la.eig(block - 0.5j * np.diag(G[C]))
            cond = np.linalg.cond(R_C) if C.size else 1.0
            if not cond < COND_MAX:
                raise ValueError(
                    f"H_eff is too close to an exceptional point (eigenvector "
                    f"condition number {cond:.2g} > {COND_MAX:g}); perturb the "
                    "couplings slightly"
                )
            R_inv_C = la.inv(R_C)
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
        )

    def evolve(
        self, psi: NDArray[np.complex128], s: NDArray[np.float64]
    ) -> NDArray[np.complex128]:
        """exp(-i H_eff s) psi for states (n, D) in the joint basis, s (n,).

        Only the coupled block is transformed to eigen-coordinates; the other levels
        get a phase, or a real decay factor when their eigenvalue is imaginary. For the
        reset model the common decay exp(-(p_A + p_B) s / 2) is left out (``rebase``).
        """
        out = psi.copy()
        if self.coupled.size:
            C = self.coupled
            cC = psi[:, C] @ self.R_inv_block.T
            cC *= np.exp(-1j * s[:, None] * self._lam_eff[C][None, :])
            out[:, C] = cC @ self.R_block.T
        rest, lam_rest = self._diagonal_levels
        if rest.size:
            if np.all(lam_rest.real == 0):
                out[:, rest] *= np.exp(s[:, None] * lam_rest.imag[None, :])
            else:
                out[:, rest] *= np.exp(-1j * s[:, None] * lam_rest[None, :])
        return out

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
            cC = psi[:, C] @ self.R_inv_block.T
            cC *= np.exp(-1j * s[:, None] * self.lam[C][None, :])
            pc = np.abs(cC @ self.R_block.T) ** 2
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
        return c * np.exp(-1j * s[:, None] * lam[None, :])

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
    """Time s in [0, horizon] at which ||exp(-i H_eff s) psi||^2 = r, or inf if the
    squared norm at ``horizon`` is still above r (no jump in the interval).

    ``psi`` (n, D) are the current states (normalised for the reset model).
    """
    if unr.uniform_rate is not None:
        if unr.uniform_rate == 0:
            return np.full(r.shape, np.inf)
        s = -np.log(r) / unr.uniform_rate
        return np.where(s <= horizon, s, np.inf)
    out = np.full(r.shape, np.inf)
    log_r = np.log(r)
    # closed form where the state sits on levels outside the coupled block that all
    # decay at one rate G (after a local jump: usually a single level)
    on = np.abs(psi) ** 2 > 0
    G = unr.decay
    g_hi = np.where(on, G, -np.inf).max(axis=1)
    g_lo = np.where(on, G, np.inf).min(axis=1)
    simple = ~on[:, unr.coupled].any(axis=1) & (g_hi - g_lo <= 1e-14 * g_hi)
    with np.errstate(divide="ignore"):
        s_simple = -log_r[simple] / g_hi[simple]
    out[simple] = np.where(s_simple <= horizon[simple], s_simple, np.inf)
    rest = np.flatnonzero(~simple)
    if rest.size:
        hit = rest[_log_norm(unr, psi[rest], horizon[rest])[0] <= log_r[rest]]
        if hit.size:
            out[hit] = _solve_log_norm(unr, psi[hit], log_r[hit], horizon[hit])
    return out


def _log_norm(
    unr: Unravelling, psi: NDArray[np.complex128], s: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """log ||exp(-i H_eff s) psi||^2 and its s-derivative -<G>, for normalised psi."""
    n, g = unr.norm_sq_after(psi, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(n), -g / n


def _solve_log_norm(unr, psi, log_r, hi, tol: float = 1e-13):
    """Safeguarded Newton on log ||psi(s)||^2 = log r for s in [0, hi], where the
    log-norm decreases monotonically (its derivative is -<psi|G|psi>/<psi|psi>).

    Stops when the log-norm matches log r to ``tol`` (relative accuracy of the norm),
    the step is below ``tol`` relative, or the bracket has shrunk to rounding.
    """
    lo = np.zeros_like(hi)
    hi = hi.copy()
    f0, df0 = _log_norm(unr, psi, lo)
    s = np.clip((log_r - f0) / np.where(df0 < 0, df0, -1.0), lo, hi)
    todo = np.arange(s.size)
    for _ in range(200):
        f, df = _log_norm(unr, psi[todo], s[todo])
        f -= log_r[todo]
        st = s[todo]
        lo[todo] = np.where(f > 0, st, lo[todo])
        hi[todo] = np.where(f <= 0, st, hi[todo])
        with np.errstate(divide="ignore", invalid="ignore"):
            new = st - f / df
        bad = ~((new >= lo[todo]) & (new <= hi[todo]))
        new = np.where(bad, 0.5 * (lo[todo] + hi[todo]), new)
        converged = np.abs(f) <= tol
        new = np.where(converged, st, new)
        done = (
            converged
            | (np.abs(new - st) <= tol * np.maximum(new, 1e-300))
            | (hi[todo] - lo[todo] <= 4e-16 * hi[todo])
        )
        s[todo] = new
        todo = todo[~done]
        if todo.size == 0:
            return s
    raise FloatingPointError("jump-time root finding did not converge")


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
