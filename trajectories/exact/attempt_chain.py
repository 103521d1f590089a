"""The attempt chain of the heralding protocol (Sec. II) as dense linear algebra.

The machine starts in rho_0 at t = 0 and the local filters (Eq. 5) are applied at
t = T, 2T, ... (T = ``attempt_period``), with E = exp(L T) between attempts. An attempt
splits the state into the success map S(rho) = P_pp rho P_pp and the failure map
F(rho) = sum of the three failing P rho P; a failure leaves the machine in the
collapsed state, which keeps evolving, and a success delivers the pair V^dag S(rho) V
(normalised, relabelled filtered subspace).

Everything is dense linear algebra on (D^2, D^2) superoperators in the column-stacking
convention vec(rho)[i + D j] = rho[i, j] and in the interaction picture (as
``simulation.simulate``): the level filters commute with H_A + H_B, so the outcome
laws are the same in both pictures, and so is the delivered state inside degenerate
subspaces (where the targets live). ``AttemptChain`` works on the closed support of
the chain only (``ChainMaps``); the laws built on it are in ``attempt_laws.py``,
``delivered_pairs.py`` and ``optimal_period.py``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from trajectories.exact.starts import start_density
from trajectories.exact.states import filter_superoperators, lu_factor_rcond
from trajectories.system.checks import check_positive
from trajectories.system.filters import Filter, check_filter
from trajectories.system.liouvillian import diagonal_indices, reachable_support, unvec
from trajectories.system.models import OpenSystem, check_model

MAX_DENSE_SUPEROPERATOR = 2500
"""Largest D^2 for which the dense propagator exp(L T) is built (D <= 50)."""

RESOLVENT_RCOND_MIN = 1e-15
"""Reciprocal condition number of 1 - F E below which no success is possible."""


class AttemptsLaw(NamedTuple):
    """A law on k = 1, 2, ...: ``pmf[k - 1]``, k = 1..k_max, and the tail P(> k_max)."""

    pmf: NDArray[np.float64]
    tail: float


class AttemptMoments(NamedTuple):
    """Mean and variance of the number of attempts K."""

    mean: float
    variance: float

    @property
    def std(self) -> float:
        """Standard deviation of K."""
        return math.sqrt(max(self.variance, 0.0))


def propagator(
    model: OpenSystem, attempt_period: float, *, interaction_picture: bool = True
) -> NDArray[np.complex128]:
    """E = exp(L T) as a dense (D^2, D^2) superoperator (column stacking).

    Dense ``scipy.linalg.expm`` (trace preservation restored to round-off); machines
    with D^2 > ``MAX_DENSE_SUPEROPERATOR`` raise a ValueError (the protocol functions
    themselves only need the closed support of the chain, usually much smaller).
    """
    model = check_model(model)
    T = check_positive(attempt_period, "attempt_period")
    D2 = model.machine.dim**2
    if D2 > MAX_DENSE_SUPEROPERATOR:
        raise ValueError(
            f"the machine has D^2 = {D2} > {MAX_DENSE_SUPEROPERATOR}: the dense "
            "protocol references need D <= 50"
        )
    L = model.liouvillian(interaction_picture).toarray()
    return _restore_trace(la.expm(L * T), _trace_row(model.machine.dim))


def _trace_row(D: int) -> NDArray[np.float64]:
    """The row vector t with t @ vec(rho) = Tr rho."""
    return np.eye(D).reshape(-1, order="F")


def _restore_trace(
    E: NDArray[np.complex128], t: NDArray[np.float64]
) -> NDArray[np.complex128]:
    """E - u (t E - t) with t u = 1: exact trace preservation, t E = t.

    ``expm`` of a large L T (T many relaxation times) loses trace preservation at the
    1e-12 level; the rank-one correction along the maximally mixed state u restores
    it without changing E beyond that round-off.
    """
    u = t / (t @ t)
    return E - np.outer(u, t @ E - t)


def _success_failure(filt: Filter) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(S, F): the success map and the summed failure maps, sparse (D^2, D^2)."""
    maps = filter_superoperators(filt)
    return maps["pass_pass"], maps["pass_fail"] + maps["fail_pass"] + maps["fail_fail"]


def attempt_maps(
    filt: Filter,
) -> tuple[NDArray[np.complex128], NDArray[np.complex128]]:
    """(S, F): the success map and the summed failure maps as dense (D^2, D^2)."""
    check_filter(filt)
    S, F = _success_failure(filt)
    return S.toarray(), F.toarray()


class ChainMaps:
    """The part of the chain that does not depend on T, on the closed support R:
    L, S, F, the trace row t and vec(rho_0) restricted to R, and the isometry V.

    R is the set of entries of vec(rho) reachable from the populations and from the
    nonzero entries of rho_0 through the sparsity of L, S and F: all three (hence
    E = exp(L T)) map span(R) into itself, so the chain is exact on R (15 of the 81
    entries for the qutrit machine).
    """

    def __init__(self, model: OpenSystem, rho_0: NDArray[np.complex128]) -> None:
        model = check_model(model)
        D = self.D = model.machine.dim
        L = model.liouvillian().tocsr()
        S, F = _success_failure(model.machine.filter)
        x0 = rho_0.reshape(-1, order="F")
        start = np.union1d(diagonal_indices(D), np.flatnonzero(x0))
        R = self.support = reachable_support(abs(L) + abs(S) + abs(F), start)
        if R.size > MAX_DENSE_SUPEROPERATOR:
            raise ValueError(
                f"the chain needs {R.size} > {MAX_DENSE_SUPEROPERATOR} entries of "
                "vec(rho): too large for the dense protocol references"
            )
        self.L = L[R][:, R].toarray()
        self.S = S[R][:, R].toarray()
        self.F = F[R][:, R].toarray()
        self.t = _trace_row(D)[R]
        self.x0 = x0[R]
        self.V = model.machine.filter.isometry()


class AttemptChain:
    """The attempt chain at one period T on the support R: S E, F E, trace row."""

    def __init__(self, maps: ChainMaps, attempt_period: float) -> None:
        self.maps = maps
        self.T = check_positive(attempt_period, "attempt_period")
        E = _restore_trace(la.expm(maps.L * self.T), maps.t)
        self.SE = maps.S @ E
        self.FE = maps.F @ E
        self.t = maps.t
        self.x0 = maps.x0
        self.success_row = self.t @ self.SE  # Tr[S E x] = success_row @ x
        self._lu: tuple[NDArray, NDArray] | None = None

    def survival(self, k_max: int) -> NDArray[np.float64]:
        """P(K > k) for k = 0..k_max (Tr[(F E)^k rho_0], no subtraction)."""
        out = np.empty(k_max + 1)
        x = self.x0
        out[0] = float((self.t @ x).real)
        for k in range(1, k_max + 1):
            x = self.FE @ x
            out[k] = float((self.t @ x).real)
        return np.clip(out, 0.0, 1.0)

    def law(self, k_max: int) -> AttemptsLaw:
        """P(K = k), k = 1..k_max, and P(K > k_max)."""
        pmf = np.empty(k_max)
        x = self.x0
        for k in range(k_max):
            pmf[k] = float((self.success_row @ x).real)
            x = self.FE @ x
        return AttemptsLaw(np.clip(pmf, 0.0, None), max(float((self.t @ x).real), 0.0))

    def resolvent(self, x: NDArray[np.complex128]) -> NDArray[np.complex128]:
        """(1 - F E)^{-1} x; a ValueError when no success is ever possible."""
        if self._lu is None:
            factors, rcond = lu_factor_rcond(np.eye(self.FE.shape[0]) - self.FE)
            if not rcond > RESOLVENT_RCOND_MIN:
                raise ValueError(
                    f"1 - F E is singular (rcond = {rcond:.2g}) at attempt_period="
                    f"{self.T}: the filter never succeeds from some state "
                    "(p_suc = 0?)"
                )
            self._lu = factors
        return la.lu_solve(self._lu, x, check_finite=False)

    def moments(self) -> AttemptMoments:
        """E[K] = t R x0, E[K^2] = 2 t R^2 x0 - t R x0 with R = (1 - F E)^{-1}."""
        y = self.resolvent(self.x0)
        z = self.resolvent(y)
        m1 = float((self.t @ y).real)
        m2 = 2 * float((self.t @ z).real) - m1
        return AttemptMoments(m1, m2 - m1 * m1)

    def delivered(self, k: int | None) -> NDArray[np.complex128]:
        """Normalised V^dag S E (F E)^{k-1} rho_0 V, or summed over k if k is None."""
        if k is None:
            x = self.SE @ self.resolvent(self.x0)
        else:
            x = self.x0
            for _ in range(k - 1):
                x = self.FE @ x
            x = self.SE @ x
        rho = unvec(x, self.maps.support, self.maps.D)
        V = self.maps.V
        out = V.conj().T @ rho @ V
        p = float(np.trace(out).real)
        if not p > 0:
            where = "ever" if k is None else f"at attempt k={k}"
            raise ValueError(f"the filter never succeeds {where} (probability {p:.3g})")
        out = out / p
        return 0.5 * (out + out.conj().T)


def attempt_chain(
    model: OpenSystem, attempt_period: float, rho_0: ArrayLike | str | None
) -> AttemptChain:
    """The chain of ``model`` at period T from ``rho_0``: None (the steady state),
    "thermal", "steady" or a (D, D) density matrix."""
    model = check_model(model)
    T = check_positive(attempt_period, "attempt_period")
    return AttemptChain(ChainMaps(model, start_density(model, rho_0)), T)
