"""When the next jump comes: the s at which ||exp(-i H_eff s) psi||^2 reaches a clock.

The event loop draws an exponential clock E = -log r per trajectory and asks for the
s in [0, horizon) at which the squared norm of the freely evolved state falls to
exp(-E) (``clock_pass``; ``clock_jump_times`` and ``jump_times`` are its reference
forms). For the reset model the norm decays as exp(-(p_A + p_B) s) whatever the state;
a state on levels outside the coupled block that share one decay rate G decays as
exp(-G s) (the groups of ``free_evolution.ClockTables``); any other state needs the
safeguarded Newton iteration of ``_solve_clock``, to 1e-13 relative in the norm.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from trajectories.engine.free_evolution import Motion
from trajectories.engine.unravelling import Unravelling

States = NDArray[np.complex128]
"""Normalised states (n, D), one per row (C-contiguous)."""
Times = NDArray[np.float64]
"""One time (or clock) per state, (n,)."""


def jump_times(
    unr: Unravelling, psi: States, r: NDArray[np.float64], horizon: Times
) -> Times:
    """Time s in [0, horizon) at which ||exp(-i H_eff s) psi||^2 = r, or inf if the
    squared norm at ``horizon`` is still above r (no jump in the interval).

    ``psi`` (n, D) are the current (normalised) states.
    """
    with np.errstate(divide="ignore"):
        E = -np.log(np.asarray(r, dtype=float))
    psi = np.ascontiguousarray(psi, dtype=complex)
    return clock_jump_times(unr, psi, E, np.asarray(horizon, dtype=float))


def clock_jump_times(
    unr: Unravelling, psi: States, E: Times, horizon: Times, tol: float = 1e-13
) -> Times:
    """Jump times from exponential clocks: the s in [0, horizon) at which
    ||exp(-i H_eff s) psi||^2 = exp(-E), else inf (the norm is still above exp(-E) at
    the horizon, or E = inf): the times of ``clock_pass``."""
    return clock_pass(unr, psi, E, horizon, tol)[0]


def clock_pass(
    unr: Unravelling, psi: States, E: Times, horizon: Times, tol: float = 1e-13
) -> tuple[Times, Motion | None]:
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
    if not unr.evolve_plan.frozen_ok:
        return out, None
    return out, Motion(simple, rate, rows_c, rows_u)


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
            plan = unr.evolve_plan
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
    A Newton step longer than half the previous step bisects instead (as rtsafe):
    where log ||psi(s)||^2 bends twice (a slow decay, then a fast one, e.g. from the
    hot level |2, 0> of the Lindblad model) Newton alone can bounce between the two
    ends of the bracket, shrinking it by 1e-3 per step.
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
    step = hi.copy()  # the previous step (the whole bracket at first)
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
        slow = ok & (np.abs(new - st) > 0.5 * step[todo])
        inside = (new >= lo_t) & (new <= hi_t) & ~slow
        # outside the bracket or slow: bisect (test the horizon while f(hi) unknown)
        new = np.where(inside, new, np.where(ok, 0.5 * (lo_t + hi_t), hi_t))
        step[todo] = np.abs(new - st)
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
