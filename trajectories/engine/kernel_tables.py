"""The flat arrays the compiled kernel (``kernel``) reads, built from an
``Unravelling`` and the pairs of a time average.

The compiled kernel runs the algorithm of ``event_loop`` one trajectory at a time:
states in the joint basis, the coupled block of H_eff in its eigenbasis, the levels
outside it with one phase or decay factor per distinct eigenvalue, the two-stage
channel choice of ``channels.JumpTables`` and, for a non-uniform decay, the
safeguarded Newton iteration of ``jump_times``; the block is propagated by the
graded Taylor series where the unravelling asks for it. ``supports`` says which
unravellings it covers: all but those near an exceptional point of H_eff.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from trajectories.engine.propagation import EXTRA_TERMS
from trajectories.engine.segment_integrals import Pairs
from trajectories.engine.unravelling import Unravelling


class KernelTables(NamedTuple):
    """One model's arrays for ``kernel.run_rows``."""

    d_A: int
    d_B: int
    rate: float  # the uniform jump rate (reset model), or -1 for a non-uniform G
    C: NDArray[np.int64]  # the coupled levels
    R_C: NDArray[np.complex128]  # R and R^-1 on them
    R_inv_C: NDArray[np.complex128]
    lam_C: NDArray[np.complex128]  # their eigenvalues (real: the decay left out)
    freq: NDArray[np.float64]  # real eigenvalues as +-w: the frequencies w
    use_w: NDArray[np.int64]  # per coupled level: its w
    use_sign: NDArray[np.int64]  # and sign (+1: exp(-i w s), -1: exp(i w s), 0: 1)
    G_C: NDArray[np.float64]  # their decay rates (diagonal of G)
    metric_C: NDArray[np.complex128]  # R_C^dag R_C
    rest: NDArray[np.int64]  # uncoupled levels with a nonzero eigenvalue
    rest_group: NDArray[np.int64]  # their index into ``rest_lam``
    rest_lam: NDArray[np.complex128]  # the distinct eigenvalues of ``rest``
    U: NDArray[np.int64]  # every uncoupled level
    U_group: NDArray[np.int64]  # its index into ``U_rate``
    U_rate: NDArray[np.float64]  # the distinct decay rates of the uncoupled levels
    lam: NDArray[np.complex128]  # every eigenvalue (for the quadrature)
    bound: float  # max |d^2/ds^2 log ||psi(s)||^2| (``ClockTables.bound``)
    out: NDArray[np.float64]  # (S,) summed rate of each source (side, level)
    cdf: NDArray[np.float64]  # (S, Q) cumulative channel probabilities per source
    chan: NDArray[np.int64]  # (S, Q) the channels of each source
    src: NDArray[np.int64]  # (S, L) joint-basis indices read by a jump of source s
    dst: NDArray[np.int64]  # (K, L) joint-basis indices written by channel k
    frozen_ok: bool  # no phase outside the coupled block (``free_evolution.Motion``)
    taylor: bool  # the block propagated by the graded Taylor series
    M: NDArray[np.complex128]  # its generator -i H_eff (``Unravelling.generator``)
    M_norm: float  # max column sum of |M|
    n_terms: int  # Taylor terms per substep (``propagation.taylor_propagate``)


class PairTables(NamedTuple):
    """The pairs (l, m) of eigen-coordinates a time average integrates, with the
    factors of the reset model's closed form (``segment_integrals.Pairs``)."""

    left: NDArray[np.int64]
    right: NDArray[np.int64]
    inv_omega: NDArray[np.complex128]
    degenerate: NDArray[np.float64]
    near_omega: NDArray[np.float64]  # omega_lm of near-degenerate pairs, else 0
    omega: NDArray[np.float64]  # omega_lm of every pair


def supports(unr: Unravelling) -> bool:
    """Whether the compiled kernel runs ``unr``: its coupled block has an
    eigenbasis (it is not propagated by the exceptional-point propagator)."""
    return unr.exact_block is None


def kernel_tables(unr: Unravelling) -> KernelTables:
    """The arrays of ``unr`` for the compiled kernel (``supports(unr)`` must hold)."""
    if not supports(unr):
        raise ValueError("the compiled kernel needs an eigenbasis of H_eff's block")
    uniform = unr.uniform_rate is not None
    lam_eff = unr.lam.real + 0j if uniform else unr.lam.astype(complex)
    U, C = unr.uncoupled, unr.coupled
    rest = U[lam_eff[U] != 0]
    rest_lam, rest_group = np.unique(lam_eff[rest], return_inverse=True)
    U_rate, U_group = np.unique(unr.decay[U], return_inverse=True)
    jt, ch = unr.jump_tables, unr.channels
    source = np.where(ch.bath == 0, ch.frm, unr.dims[0] + ch.frm)
    out = np.bincount(source, weights=ch.rate, minlength=jt.n_src)
    bound = 0.0 if uniform else float(unr.clock_tables.bound)
    freq, use_w, use_sign = _phases(unr) if uniform else (np.zeros(0), C * 0, C * 0)
    c = np.ascontiguousarray
    return KernelTables(
        int(unr.dims[0]),
        int(unr.dims[1]),
        float(unr.uniform_rate) if uniform else -1.0,
        c(C, dtype=np.int64),
        c(unr.R_block, dtype=complex),
        c(unr.R_inv_block, dtype=complex),
        c(lam_eff[C]),
        c(freq, dtype=float),
        c(use_w, dtype=np.int64),
        c(use_sign, dtype=np.int64),
        c(unr.decay[C], dtype=float),
        c(unr.R_block.conj().T @ unr.R_block, dtype=complex),
        c(rest, dtype=np.int64),
        c(rest_group.ravel(), dtype=np.int64),
        c(rest_lam, dtype=complex),
        c(U, dtype=np.int64),
        c(U_group.ravel(), dtype=np.int64),
        c(U_rate, dtype=float),
        c(lam_eff),
        bound,
        c(out, dtype=float),
        c(jt.cdf, dtype=float),
        c(jt.chan, dtype=np.int64),
        c(jt.src, dtype=np.int64),
        c(jt.dst, dtype=np.int64),
        bool(unr.evolve_plan.frozen_ok),
        unr.propagator == "taylor",
        c(unr.generator, dtype=complex),
        float(np.abs(unr.generator).sum(axis=0).max(initial=0.0)),
        int(C.size + EXTRA_TERMS),
    )


def _phases(
    unr: Unravelling,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """The real eigenvalues of the coupled block as +-w (``EvolvePlan``): one cos
    and sin per frequency w rather than a complex exponential per level."""
    plan = unr.evolve_plan
    if plan.freq is None:
        E = unr.lam[unr.coupled].real
        return E, np.arange(E.size), np.ones(E.size, dtype=np.int64)
    use = np.array(plan.use, dtype=np.int64).reshape(-1, 2)
    return plan.freq, use[:, 0], use[:, 1]


def pair_tables(pairs: Pairs) -> PairTables:
    """The kernel's form of ``pairs``."""
    near = np.zeros(pairs.left.size)
    near[pairs.near] = pairs.near_omega
    c = np.ascontiguousarray
    return PairTables(
        c(pairs.left, dtype=np.int64),
        c(pairs.right, dtype=np.int64),
        c(pairs.inv_omega, dtype=complex),
        c(pairs.degenerate, dtype=float),
        near,
        c(pairs.omega, dtype=float),
    )


def all_pairs(unr: Unravelling) -> Pairs:
    """Every pair (l, m), row-major: the pairs of ``averages.FullAverage``."""
    D = unr.dim
    left, right = np.divmod(np.arange(D * D), D)
    return Pairs.of(unr, left, right)


def workspace(tab: KernelTables, D: int) -> tuple[NDArray, ...]:
    """Scratch arrays of one trajectory's segments (``kernel.run_rows``)."""
    n_C = tab.C.size
    return (
        np.empty(n_C, np.complex128),  # cC: block coordinates
        np.empty(n_C, np.complex128),  # y: evolved block
        np.empty(tab.U_rate.size),  # pU: weights by decay group
        np.empty(tab.out.size),  # w: source populations
        np.empty(tab.src.shape[1], np.complex128),  # vals: the jumped line
        np.empty(D, np.complex128),  # c0: coordinates at the segment's start
        np.empty(D, np.complex128),  # c1: at its end
        np.empty(max(tab.freq.size, 1), np.complex128),  # zs: exp(i w s)
        np.empty(n_C, np.complex128),  # Taylor: the current term
        np.empty(n_C, np.complex128),  # Taylor: the partial sum
    )
