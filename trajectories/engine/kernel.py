"""The compiled event loop: each trajectory runs from one checkpoint to the next.

``run_rows`` is the algorithm of ``event_loop`` (exact between jumps, nothing
discretised in time) compiled by numba and run one trajectory at a time, so that a
jump costs O(|C|^2 + D) operations on data in cache rather than whole-array passes
over the chunk. Per segment: the coordinates of the coupled block
(``_coordinates``); the jump time (the clock over the uniform rate for the reset
model of Eq. 4, else, for the Lindblad model of Eqs. F1, F6, the safeguarded Newton
iteration of ``jump_times`` on log ||psi(s)||^2, ``_jump_time``, or the closed form
of a state on uncoupled levels of one decay rate, which only decays and keeps its
normalised form, ``_one_rate``); free evolution (``_evolve``: phases in the
eigenbasis, or the graded Taylor series, ``_taylor_block``); the time-average
integral (``segment_integrals``: the closed form for the reset model, Gauss-Legendre
quadrature otherwise); then the jump (``_jump``: the two-stage channel choice of
``channels.JumpTables``) or, at the checkpoint, the renormalisation. Randomness per
jump: an exponential clock from ``rng_times``, two uniforms from ``rng_channels``
(numpy Generators, whose streams numba draws from in place).

Compiled code is cached on disk (``cache=True``): only the first run after an
install pays the compilation (README). Every compiled piece lives in this file: numba
checks a cache against the file of the cached function only, and the pieces are
inlined into ``run_rows`` (the constants read from ``propagation`` and
``segment_integrals`` are frozen into the cache too: change them with this file).
"""

from __future__ import annotations

import numba
import numpy as np

from trajectories.engine.propagation import STEP_NORM
from trajectories.engine.segment_integrals import SHORT_PHASE

_ENTRY = {"cache": True, "error_model": "numpy", "nogil": True, "_nrt": False}
"""Compiled without numba's reference counting of arrays (``_nrt``): nothing in the
kernel allocates (``workspace`` is built outside), and counting the tables' arrays
at every call made a jump three times slower."""
_JIT = {**_ENTRY, "inline": "always"}
"""The pieces are inlined into ``run_rows`` (numba IR inlining): called, each one
copied the tables' structure and a jump took twice as long. The first run after an
install compiles for ~18 s; the code is cached on disk after that."""
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(12)
MAX_NEWTON = 200
"""Iterations of the jump-time root finding before it is declared failed."""


@numba.njit(**_JIT)
def _coordinates(psi, tab, cC):
    """cC = R^-1 psi on the coupled block."""
    C = tab.C
    for a in range(C.size):
        acc = 0j
        for b in range(C.size):
            acc += tab.R_inv_C[a, b] * psi[C[b]]
        cC[a] = acc


@numba.njit(**_JIT)
def _evolve(psi, s, tab, cC, ws):
    """exp(-i H_eff s) psi in place, from the block coordinates cC (which become
    those of the evolved state); the reset model's common decay is left out."""
    if _in_block(psi, tab.C):
        _evolve_block(psi, s, tab, cC, ws)
    for j in range(tab.rest.size):  # a factor per level with amplitude
        if psi[tab.rest[j]] != 0:
            lam = tab.rest_lam[tab.rest_group[j]]
            if lam.real == 0:  # a pure decay (the interaction picture)
                psi[tab.rest[j]] *= np.exp(lam.imag * s)
            else:
                psi[tab.rest[j]] *= np.exp(-1j * lam * s)


@numba.njit(**_JIT)
def _in_block(psi, C):
    """Whether psi has amplitude on the coupled levels C (else the block's
    evolution is the identity on zeros and is skipped)."""
    for a in range(C.size):
        if psi[C[a]] != 0:
            return True
    return False


@numba.njit(**_JIT)
def _evolve_block(psi, s, tab, cC, ws):
    """The coupled block of ``_evolve``."""
    C, zs = tab.C, ws[7]
    if tab.rate >= 0:  # real eigenvalues +-w: z = exp(i w s)
        for j in range(tab.freq.size):
            x = tab.freq[j] * s
            zs[j] = complex(np.cos(x), np.sin(x))
        for a in range(C.size):
            if tab.use_sign[a] > 0:
                cC[a] *= np.conj(zs[tab.use_w[a]])
            elif tab.use_sign[a] < 0:
                cC[a] *= zs[tab.use_w[a]]
    else:
        for a in range(C.size):
            cC[a] *= np.exp(-1j * tab.lam_C[a] * s)
    if tab.taylor:
        _taylor_block(psi, s, tab, ws[8], ws[9], ws[1])
    else:
        for a in range(C.size):
            acc = 0j
            for b in range(C.size):
                acc += tab.R_C[a, b] * cC[b]
            psi[C[a]] = acc


@numba.njit(**_JIT)
def _taylor_block(psi, s, tab, term, total, tmp):
    """exp(M s) on the coupled block of psi by the graded Taylor series of
    ``propagation.taylor_propagate`` (substeps of ||h M||_1 <= STEP_NORM)."""
    C = tab.C
    if tab.M_norm == 0:
        return
    n_sub = max(int(np.ceil(tab.M_norm * s / STEP_NORM)), 1)
    h = s / n_sub
    for _ in range(n_sub):
        for a in range(C.size):
            term[a] = psi[C[a]]
            total[a] = psi[C[a]]
        for n in range(1, tab.n_terms):
            for a in range(C.size):
                acc = 0j
                for b in range(C.size):
                    acc += tab.M[a, b] * term[b]
                tmp[a] = acc * (h / n)
            for a in range(C.size):
                term[a] = tmp[a]
                total[a] += tmp[a]
        for a in range(C.size):
            psi[C[a]] = total[a]


@numba.njit(**_JIT)
def _norm_and_rate(s, tab, pU, cC, y):
    """(log ||psi(s)||^2, -<G>) after s: the uncoupled weights pU by decay group
    decay as exp(-G s); the coupled block is evolved in its eigenbasis."""
    a = 0.0
    b = 0.0
    for g in range(pU.size):
        if pU[g] > 0:
            e = pU[g] * np.exp(-tab.U_rate[g] * s)
            a += e
            b += tab.U_rate[g] * e
    C = tab.C
    if C.size:
        for j in range(C.size):
            y[j] = cC[j] * np.exp(-1j * tab.lam_C[j] * s)
        for i in range(C.size):
            acc = 0j
            for j in range(C.size):
                acc += tab.R_C[i, j] * y[j]
            p = acc.real * acc.real + acc.imag * acc.imag
            a += p
            b += tab.G_C[i] * p
    return np.log(a), -b / a


@numba.njit(**_JIT)
def _group_weights(psi, tab, pU):
    """pU: the populations of the uncoupled levels summed by decay rate; returns
    the number of groups with population."""
    for g in range(pU.size):
        pU[g] = 0.0
    for j in range(tab.U.size):
        x = psi[tab.U[j]]
        pU[tab.U_group[j]] += x.real * x.real + x.imag * x.imag
    n = 0
    for g in range(pU.size):
        n += pU[g] > 0
    return n


@numba.njit(**_JIT)
def _one_rate(psi, tab, pU):
    """The decay rate G of a state that only decays as exp(-G s): no population
    in the coupled block, all of it on uncoupled levels of one rate; else -1."""
    if _in_block(psi, tab.C) or _group_weights(psi, tab, pU) != 1:
        return -1.0
    return tab.U_rate[np.argmax(pU)]


@numba.njit(**_JIT)
def _jump_time(psi, E, horizon, tab, cC, pU, y, tol):
    """The s in [0, horizon) at which ||exp(-i H_eff s) psi||^2 = exp(-E) (psi
    normalised), inf if none, nan if the iteration fails (``jump_times``);
    ``pU`` must hold the weights of ``_group_weights``."""
    a, b = 0.0, 0.0  # ||psi||^2 and <G> at s = 0, without exponentials
    for g in range(pU.size):
        a += pU[g]
        b += tab.U_rate[g] * pU[g]
    for i in range(tab.C.size):
        x = psi[tab.C[i]]
        p = x.real * x.real + x.imag * x.imag
        a += p
        b += tab.G_C[i] * p
    return _newton(E, horizon, tab, pU, cC, y, tol, np.log(a) + E, -b / a)


@numba.njit(**_JIT)
def _newton(E, horizon, tab, pU, cC, y, tol, f0, df0):
    """Safeguarded Newton of ``jump_times._solve_clock`` for one state, started
    from s = 0 where f = f0 and f' = df0."""
    lo, hi, hi_ok = 0.0, horizon, False
    s = min(max(-f0 / df0, 0.0), hi)
    if not np.isfinite(s):
        s = hi
    step = hi
    for _ in range(MAX_NEWTON):
        f, df = _norm_and_rate(s, tab, pU, cC, y)
        f += E
        if f <= 0:
            hi, hi_ok = s, True
        else:
            lo = s
        miss = not hi_ok and s >= hi
        new = s - f / df
        inside = lo <= new <= hi and not (hi_ok and abs(new - s) > 0.5 * step)
        if not inside:
            new = 0.5 * (lo + hi) if hi_ok else hi
        step = abs(new - s)
        converged = abs(f) <= tol
        if converged:
            new = s
        if (
            converged
            or miss
            or (inside and 0.5 * tab.bound * (new - s) ** 2 <= tol)
            or (inside and abs(new - s) <= tol * max(new, 1e-300))
            or (hi_ok and hi - lo <= 4e-16 * hi)
        ):
            return np.inf if miss else new
        s = new
    return np.nan


@numba.njit(**_JIT)
def _jump(psi, u1, u2, tab, w, vals):
    """Draw a channel with probability ||L_k psi||^2 / sum_k ||L_k psi||^2 in two
    stages (the source (side, level) with u1, then the channel with u2) and
    replace psi by L_k psi / ||L_k psi||; returns k."""
    d_A, d_B = tab.d_A, tab.d_B
    for q in range(w.size):
        w[q] = 0.0
    for a in range(d_A):
        for b in range(d_B):
            x = psi[a * d_B + b]
            p = x.real * x.real + x.imag * x.imag
            w[a] += p
            w[d_A + b] += p
    S = w.size
    total = 0.0
    for q in range(S):
        total += tab.out[q] * w[q]
    v = u1 * total
    g, cum = 0, tab.out[0] * w[0]
    while g < S - 1 and cum <= v:
        g += 1
        cum += tab.out[g] * w[g]
    Q = tab.cdf.shape[1]
    q2 = 0
    while q2 < Q - 1 and tab.cdf[g, q2] <= u2:
        q2 += 1
    k = tab.chan[g, q2]
    scale = 1.0 / np.sqrt(w[g])
    L = tab.src.shape[1]
    for j in range(L):
        vals[j] = psi[tab.src[g, j]] * scale
    for j in range(psi.size):
        psi[j] = 0.0
    for j in range(L):
        psi[tab.dst[k, j]] = vals[j]
    return k


@numba.njit(**_JIT)
def _integral_unitary(c0, c1, s, pt, acc):
    """Add integral_0^s c(u)_l c(u)_m^* du at the pairs, from the coordinates c0
    at the start and c1 at the end (the reset model's closed form)."""
    for q in range(pt.left.size):
        a, b = pt.left[q], pt.right[q]
        P0 = c0[a] * np.conj(c0[b])
        x = s * pt.omega[q]
        if x == 0:  # degenerate, or a phase below the smallest double
            acc[q] += P0 * s
        elif pt.near_omega[q] != 0 or abs(x) < SHORT_PHASE:
            mean = complex(np.sin(x) / x, -2.0 * np.sin(0.5 * x) ** 2 / x)
            acc[q] += P0 * (s * mean)  # the mean phase, exact at any s
        else:
            P1 = c1[a] * np.conj(c1[b])
            acc[q] += (P1 - P0) * pt.inv_omega[q] + P0 * (pt.degenerate[q] * s)


@numba.njit(**_JIT)
def _sub_intervals(c0, s, lam):
    """Sub-intervals short enough that the normalised state varies by at most ~2
    e-folds or radians on each (``segment_integrals``)."""
    hi_r, lo_r, hi_i, lo_i = -np.inf, np.inf, -np.inf, np.inf
    for j in range(c0.size):
        if c0[j] != 0:
            hi_r, lo_r = max(hi_r, lam[j].real), min(lo_r, lam[j].real)
            hi_i, lo_i = max(hi_i, lam[j].imag), min(lo_i, lam[j].imag)
    scale = np.hypot(hi_r - lo_r, hi_i - lo_i)
    return max(int(np.ceil(s * scale / 2.0)), 1)


@numba.njit(**_JIT)
def _integral_quadrature(c0, s, tab, pt, acc, cu):
    """Add integral_0^s c(u)_l c(u)_m^* / ||psi(u)||^2 du at the pairs by 12-node
    Gauss-Legendre quadrature on sub-intervals (non-uniform decay)."""
    n_sub = _sub_intervals(c0, s, tab.lam)
    h = s / n_sub
    C = tab.C
    for k in range(n_sub):
        for node in range(_GL_NODES.size):
            u = h * (k + 0.5 * (_GL_NODES[node] + 1.0))
            norm = 0.0
            for j in range(c0.size):
                cu[j] = c0[j] * np.exp(-1j * tab.lam[j] * u) if c0[j] != 0 else 0j
                norm += cu[j].real * cu[j].real + cu[j].imag * cu[j].imag
            for a in range(C.size):  # the block's metric instead of 1 there
                for b in range(C.size):
                    m_ab = tab.metric_C[a, b] - (1.0 if a == b else 0.0)
                    norm += (np.conj(cu[C[a]]) * m_ab * cu[C[b]]).real
            fac = 0.5 * _GL_WEIGHTS[node] * h / norm
            for q in range(pt.left.size):
                acc[q] += fac * cu[pt.left[q]] * np.conj(cu[pt.right[q]])


@numba.njit(**_JIT)
def _full_coordinates(psi, tab, cC, c):
    """c = R^-1 psi on every level (psi outside the coupled block)."""
    for j in range(psi.size):
        c[j] = psi[j]
    for a in range(tab.C.size):
        c[tab.C[a]] = cC[a]


@numba.njit(**_JIT)
def _segment(psi, s, tab, pt, ws, integrate, acc):
    """Move psi by s (free evolution from the block coordinates in ws) and add the
    segment's time-average integral to ``acc`` if ``integrate``."""
    cC, c0, c1 = ws[0], ws[5], ws[6]
    if integrate:
        _full_coordinates(psi, tab, cC, c0)
    _evolve(psi, s, tab, cC, ws)
    if integrate and tab.rate >= 0:
        _full_coordinates(psi, tab, cC, c1)
        _integral_unitary(c0, c1, s, pt, acc)
    elif integrate:
        _integral_quadrature(c0, s, tab, pt, acc, c1)


@numba.njit(**_JIT)
def _next_jump(psi, clock, horizon, tab, ws, tol):
    """(s, G): the time to the next jump (inf if none before ``horizon``, nan if
    the root finding failed) and, for a state that only decays (its normalised
    form frozen, ``free_evolution.Motion``), its rate G, else -1."""
    cC, y, pU = ws[0], ws[1], ws[2]
    if tab.rate > 0:
        return clock / tab.rate, -1.0
    if tab.rate == 0:
        return np.inf, -1.0
    G = _one_rate(psi, tab, pU)
    if G >= 0:
        s = clock / G
        return (s if s < horizon else np.inf), (G if tab.frozen_ok else -1.0)
    _group_weights(psi, tab, pU)
    return _jump_time(psi, clock, horizon, tab, cC, pU, y, tol), -1.0


@numba.njit(**_JIT)
def _move(psi, s, G, tab, pt, ws, integrate, acc):
    """Free evolution over s with the segment's integral; a frozen state (rate
    G >= 0) keeps its normalised form, and its integral is s rho."""
    if G < 0:
        _segment(psi, s, tab, pt, ws, integrate, acc)
    elif integrate:
        for q in range(pt.left.size):
            acc[q] += s * (psi[pt.left[q]] * np.conj(psi[pt.right[q]]))


@numba.njit(**_JIT)
def _arrive(psi, clock, s, G, tab):
    """The clock at a checkpoint reached after s without a jump (memoryless),
    and the state renormalised where it decayed."""
    if tab.rate >= 0:
        return max(clock - tab.rate * s, 0.0)
    if G >= 0:
        return max(clock - G * s, 0.0)
    n2 = 0.0
    for j in range(psi.size):
        n2 += psi[j].real * psi[j].real + psi[j].imag * psi[j].imag
    inv = 1.0 / np.sqrt(n2)
    for j in range(psi.size):
        psi[j] *= inv
    return max(clock + np.log(n2), 0.0)


@numba.njit(**_JIT)
def _run_row(psi, t, clock, t_end, tab, pt, ws, integrate, acc, rngs, tol):
    """Run one trajectory (state psi, time t, clock E) to t_end; returns (t,
    clock, status) and counts its jumps by channel into ``rngs``' counters.
    status: 0, or 1 if the jump-time root finding failed."""
    rng_times, rng_channels, counts, late, burn_in = rngs
    while t < t_end:
        horizon = t_end - t
        _coordinates(psi, tab, ws[0])
        s, G = _next_jump(psi, clock, horizon, tab, ws, tol)
        if np.isnan(s):
            return t, clock, 1
        if s >= horizon:  # no jump before the checkpoint
            _move(psi, horizon, G, tab, pt, ws, integrate, acc)
            return t_end, _arrive(psi, clock, horizon, G, tab), 0
        _move(psi, s, G, tab, pt, ws, integrate, acc)
        t += s
        clock = rng_times.standard_exponential()
        u1, u2 = rng_channels.random(), rng_channels.random()
        k = _jump(psi, u1, u2, tab, ws[3], ws[4])
        counts[k] += 1
        if t >= burn_in:
            late[k] += 1
    return t, clock, 0


@numba.njit(**_ENTRY)
def run_rows(psi, t, clock, t_end, integrate, acc, counts, late, burn_in, tab, pt,
             ws, rng_times, rng_channels, tol=1e-13):
    """Run every trajectory (rows of psi (n, D), times t, clocks E) to its t_end,
    in place: states normalised at t_end, clocks relative to it, time-average
    integrals added to acc (n, P) where ``integrate``, jumps added to counts and,
    at t >= burn_in, to late (n, K). Returns -1, or the first row whose jump-time
    root finding failed. ``ws``: ``kernel_tables.workspace(tab, D)``."""
    for i in range(psi.shape[0]):
        if t[i] >= t_end[i]:
            continue
        rngs = (rng_times, rng_channels, counts[i], late[i], burn_in)
        t[i], clock[i], status = _run_row(
            psi[i], t[i], clock[i], t_end[i], tab, pt, ws, integrate[i], acc[i],
            rngs, tol,
        )
        if status:
            return i
    return -1
