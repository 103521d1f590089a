"""Exact laws of the heralding protocol: repeated filtering attempts (Sec. II).

The machine starts in rho_0 at t = 0 (default: the steady state) and the local filters
(Eq. 5) are applied at t = T, 2T, ... (T = ``attempt_period``), with E = exp(L T)
between attempts. An attempt splits the state into the success map
S(rho) = P_pp rho P_pp and the failure map F(rho) = sum of the three failing
P rho P; a failure leaves the machine in the collapsed state, which keeps evolving, and
a success delivers the pair V^dag S(rho) V (normalised, relabelled filtered subspace)
and restarts the machine from ``restart`` ("thermal": tau_A (x) tau_B, or "steady").

With K the number of attempts until the first success,

* P(K = k) = Tr[S E (F E)^{k-1} rho_0] and P(K > k) = Tr[(F E)^k rho_0];
* E[K] = Tr[(1 - F E)^{-1} rho_0] (solved, not summed);
* n machines in lockstep: P(R > k) = P(K > k)^n for the bank's first success round;
* pairs per machine per unit time (renewal): 1 / (T E[K']), K' from the restart state;
* T >> relaxation time: E -> |rho_ss>><<1| and P(K = k) -> p_suc (1 - p_suc)^{k-1}.

Everything is dense linear algebra on (D^2, D^2) superoperators in the column-stacking
convention vec(rho)[i + D j] = rho[i, j] and in the interaction picture (as
``unravel.simulate``): the level filters commute with H_A + H_B, so the outcome laws
are the same in both pictures, and so is the delivered state inside degenerate
subspaces (where the targets live).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.linalg as la
import scipy.optimize as opt
from numpy.typing import ArrayLike, NDArray

from analysis.measures import fidelity
from analysis.waiting_times import any_success_probability
from trajectories.exact.starts import RESTARTS, restart_state, start_density
from trajectories.exact.states import filter_superoperators, steady_state
from trajectories.system.filters import Filter
from trajectories.system.liouvillian import diagonal_indices, reachable_support, unvec
from trajectories.system.models import OpenSystem

MAX_DENSE_SUPEROPERATOR = 2500
"""Largest D^2 for which the dense propagator exp(L T) is built (D <= 50)."""

DEFAULT_PERIOD_BOUNDS = (1e-1, 1e6)
"""Default search interval of ``optimal_attempt_period`` (units of 1 / first gap)."""


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


class OptimalPeriod(NamedTuple):
    """Result of ``optimal_attempt_period``."""

    attempt_period: float
    rate: float
    fidelity: float
    constraint_active: bool


# ------------------------------------------------------------------------ validation


def _check_model(model: object) -> OpenSystem:
    if not isinstance(model, OpenSystem):
        raise ValueError(
            f"model={model!r} must be a ResetModel or LindbladModel (an OpenSystem)"
        )
    return model


def _check_period(T: object, name: str = "attempt_period") -> float:
    if isinstance(T, (bool, np.bool_)) or not isinstance(
        T, (int, float, np.integer, np.floating)
    ):
        raise ValueError(f"{name}={T!r} must be a finite real number > 0")
    value = float(T)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value} must be finite and > 0 (valid range 0 < T)")
    return value


def _check_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    if value < minimum:
        raise ValueError(f"{name}={value} must be an integer >= {minimum}")
    return int(value)


def _check_restart(restart: object) -> str:
    if restart not in RESTARTS:
        raise ValueError(f"restart={restart!r} must be one of {RESTARTS}")
    return str(restart)


def _check_probability(p: object, name: str, *, open_low: bool = False) -> float:
    valid = "(0, 1]" if open_low else "[0, 1]"
    if isinstance(p, (bool, np.bool_)) or not isinstance(
        p, (int, float, np.integer, np.floating)
    ):
        raise ValueError(f"{name}={p!r} must be a real number in {valid}")
    value = float(p)
    ok = 0 < value <= 1 if open_low else 0 <= value <= 1
    if not ok:
        raise ValueError(f"{name}={value} must be in {valid}")
    return value


# ------------------------------------------------------------------ building blocks


def _vec(rho: NDArray[np.complex128]) -> NDArray[np.complex128]:
    return rho.reshape(-1, order="F")


def _trace_row(D: int) -> NDArray[np.float64]:
    """The row vector t with t @ vec(rho) = Tr rho."""
    return np.eye(D).reshape(-1, order="F")


def propagator(
    model: OpenSystem, attempt_period: float, *, interaction_picture: bool = True
) -> NDArray[np.complex128]:
    """E = exp(L T) as a dense (D^2, D^2) superoperator (column stacking).

    Dense ``scipy.linalg.expm`` (trace preservation restored to round-off); machines
    with D^2 > ``MAX_DENSE_SUPEROPERATOR`` raise a ValueError (the protocol functions
    themselves only need the closed support of the chain, usually much smaller).
    """
    model = _check_model(model)
    T = _check_period(attempt_period)
    L = _dense_liouvillian(model, interaction_picture)
    return _restore_trace(la.expm(L * T), _trace_row(model.machine.dim))


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


def _dense_liouvillian(
    model: OpenSystem, interaction_picture: bool = True
) -> NDArray[np.complex128]:
    D2 = model.machine.dim**2
    if D2 > MAX_DENSE_SUPEROPERATOR:
        raise ValueError(
            f"the machine has D^2 = {D2} > {MAX_DENSE_SUPEROPERATOR}: the dense "
            "protocol references need D <= 50"
        )
    return model.liouvillian(interaction_picture).toarray()


def attempt_maps(
    filt: Filter,
) -> tuple[NDArray[np.complex128], NDArray[np.complex128]]:
    """(S, F): the success map and the summed failure maps as dense (D^2, D^2)."""
    if not isinstance(filt, Filter):
        raise ValueError(f"filt must be a Filter, got {type(filt).__name__}")
    maps = filter_superoperators(filt)
    S = maps["pass_pass"].toarray()
    F = (maps["pass_fail"] + maps["fail_pass"] + maps["fail_fail"]).toarray()
    return S, F


class _Structure:
    """The part of the chain that does not depend on T, on the closed support R.

    R is the set of entries of vec(rho) reachable from the populations and from the
    nonzero entries of rho_0 through the sparsity of L, S and F: all three (hence
    E = exp(L T)) map span(R) into itself, so the chain is exact on R (15 of the 81
    entries for the qutrit machine).
    """

    def __init__(self, model: OpenSystem, rho_0: NDArray[np.complex128]) -> None:
        self.model = _check_model(model)
        D = self.D = model.machine.dim
        L = model.liouvillian().tocsr()
        maps = filter_superoperators(model.machine.filter)
        S = maps["pass_pass"]
        F = maps["pass_fail"] + maps["fail_pass"] + maps["fail_fail"]
        x0 = _vec(rho_0)
        start = np.union1d(diagonal_indices(D), np.flatnonzero(x0))
        pattern = abs(L) + abs(S) + abs(F)
        R = self.support = reachable_support(pattern, start)
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


class _Chain:
    """The attempt chain at one period T on the support R: S E, F E, trace row."""

    def __init__(self, structure: _Structure, attempt_period: float) -> None:
        self.st = structure
        self.T = _check_period(attempt_period)
        E = _restore_trace(la.expm(structure.L * self.T), structure.t)
        self.SE = structure.S @ E
        self.FE = structure.F @ E
        self.t = structure.t
        self.x0 = structure.x0
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
            A = np.eye(self.FE.shape[0]) - self.FE
            lu, piv = la.lu_factor(A, check_finite=False)
            (gecon,) = la.get_lapack_funcs(("gecon",), (lu,))
            rcond, _ = gecon(lu, np.abs(A).sum(axis=0).max(), norm="1")
            if not rcond > 1e-15:
                raise ValueError(
                    f"1 - F E is singular (rcond = {rcond:.2g}) at attempt_period="
                    f"{self.T}: the filter never succeeds from some state "
                    "(p_suc = 0?)"
                )
            self._lu = (lu, piv)
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
        rho = unvec(x, self.st.support, self.st.D)
        V = self.st.V
        out = V.conj().T @ rho @ V
        p = float(np.trace(out).real)
        if not p > 0:
            where = "ever" if k is None else f"at attempt k={k}"
            raise ValueError(f"the filter never succeeds {where} (probability {p:.3g})")
        out = out / p
        return 0.5 * (out + out.conj().T)


def _chain(
    model: OpenSystem, attempt_period: float, rho_0: ArrayLike | str | None
) -> _Chain:
    model = _check_model(model)
    T = _check_period(attempt_period)
    return _Chain(_Structure(model, start_density(model, rho_0)), T)


# ------------------------------------------------------------------------- the laws


def attempts_pmf(
    model: OpenSystem,
    attempt_period: float,
    k_max: int,
    rho_0: ArrayLike | str | None = None,
) -> AttemptsLaw:
    """P(K = k) = Tr[S E (F E)^{k-1} rho_0], k = 1..k_max, and the tail P(K > k_max).

    ``rho_0``: None (steady state), "thermal", "steady" or a (D, D) density matrix.

    Examples
    --------
    >>> from trajectories.system.machines import qutrit
    >>> from trajectories.system.models import ResetModel
    >>> model = ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01)
    >>> law = attempts_pmf(model, 10.0, 5)
    >>> round(float(law.pmf.sum() + law.tail), 12)
    1.0
    """
    k_max = _check_int(k_max, "k_max")
    return _chain(model, attempt_period, rho_0).law(k_max)


def attempts_survival(
    model: OpenSystem,
    attempt_period: float,
    k_max: int,
    rho_0: ArrayLike | str | None = None,
) -> NDArray[np.float64]:
    """P(K > k) = Tr[(F E)^k rho_0] for k = 1..k_max (array of length k_max)."""
    k_max = _check_int(k_max, "k_max")
    return _chain(model, attempt_period, rho_0).survival(k_max)[1:]


def mean_attempts(
    model: OpenSystem,
    attempt_period: float,
    rho_0: ArrayLike | str | None = None,
) -> AttemptMoments:
    """Mean and variance of K from the resolvent (1 - F E)^{-1} (two linear solves).

    E[K] = Tr[(1 - F E)^{-1} rho_0] and
    E[K^2] = Tr[(2 (1 - F E)^{-2} - (1 - F E)^{-1}) rho_0].

    Examples
    --------
    >>> from trajectories.system.machines import qutrit
    >>> from trajectories.system.models import ResetModel
    >>> model = ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01)
    >>> round(mean_attempts(model, 1e4).mean, 6)  # 1 / p_suc at long T
    20.7
    """
    return _chain(model, attempt_period, rho_0).moments()


def bank_first_success_pmf(
    model: OpenSystem,
    attempt_period: float,
    n: int,
    k_max: int,
    rho_0: ArrayLike | str | None = None,
) -> AttemptsLaw:
    """Law of the first success round R of n lockstep machines: P(R > k) = P(K > k)^n.

    ``pmf[k - 1]`` = P(K > k - 1)^n - P(K > k)^n and the tail P(K > k_max)^n.
    """
    n = _check_int(n, "n")
    k_max = _check_int(k_max, "k_max")
    surv_n = _chain(model, attempt_period, rho_0).survival(k_max) ** n
    return AttemptsLaw(np.clip(-np.diff(surv_n), 0.0, None), float(surv_n[-1]))


def round_success_probability(
    model: OpenSystem,
    attempt_period: float,
    n: int,
    rho_0: ArrayLike | str | None = None,
) -> float:
    """1 - (1 - P(K = 1))^n: some of n machines succeeds at the first attempt.

    With rho_0 the steady state (default) this is the 1 - (1 - p_suc)^n of Sec. II.
    """
    n = _check_int(n, "n")
    p1 = float(_chain(model, attempt_period, rho_0).law(1).pmf[0])
    return float(any_success_probability(p1, n))


def delivered_state(
    model: OpenSystem,
    attempt_period: float,
    k: int | None = None,
    restart: str = "thermal",
    rho_0: ArrayLike | str | None = None,
) -> NDArray[np.complex128]:
    """The delivered pair (relabelled filtered subspace, normalised).

    The cycle starts from ``rho_0`` (default: the ``restart`` state). ``k=None``: the
    long-run average, sum_k V^dag S E (F E)^{k-1} rho_0 V normalised; an integer
    ``k``: the pair conditioned on the success happening at attempt k.
    """
    restart = _check_restart(restart)
    if k is not None:
        k = _check_int(k, "k")
    start = restart if rho_0 is None else rho_0
    return _chain(model, attempt_period, start).delivered(k)


def pair_rate(
    model: OpenSystem, attempt_period: float, restart: str = "thermal"
) -> float:
    """Long-run delivered pairs per machine per unit time, 1 / (T E[K'])."""
    restart = _check_restart(restart)
    chain = _chain(model, attempt_period, restart)
    return 1.0 / (chain.T * chain.moments().mean)


def geometric_pmf(p: float, k_max: int) -> AttemptsLaw:
    """The geometric law p (1 - p)^{k-1}, k = 1..k_max, and its tail (1 - p)^k_max."""
    p = _check_probability(p, "p", open_low=True)
    k_max = _check_int(k_max, "k_max")
    k = np.arange(1, k_max + 1)
    return AttemptsLaw(p * (1 - p) ** (k - 1), float((1 - p) ** k_max))


def total_variation(a: AttemptsLaw, b: AttemptsLaw) -> float:
    """Total-variation distance of two laws on the same k = 1..k_max (tail as a bin)."""
    if np.shape(a.pmf) != np.shape(b.pmf):
        raise ValueError(
            f"the laws have different k_max: {np.size(a.pmf)} vs {np.size(b.pmf)}"
        )
    return 0.5 * float(np.abs(a.pmf - b.pmf).sum() + abs(a.tail - b.tail))


def success_probability(model: OpenSystem) -> float:
    """p_suc = Tr[(Pi_A (x) Pi_B) rho_ss] on the steady state (Eq. 5)."""
    model = _check_model(model)
    P = model.machine.filter.success_projector()
    return float(np.trace(P @ steady_state(model)).real)


def geometric_deviation(
    model: OpenSystem,
    attempt_period: float,
    k_max: int,
    rho_0: ArrayLike | str | None = None,
) -> float:
    """TV distance between the exact law of K and the geometric law with p_suc.

    p_suc is the success probability on the steady state (Eq. 5); the exact law starts
    from ``rho_0`` (default the steady state). Both laws are compared on k = 1..k_max
    plus the tail bin K > k_max.
    """
    k_max = _check_int(k_max, "k_max")
    exact = _chain(model, attempt_period, rho_0).law(k_max)
    p_suc = success_probability(model)
    if not p_suc > 0:
        raise ValueError(
            f"p_suc = {p_suc:.3g}: the filter never succeeds on the steady state, "
            "there is no geometric law to compare with"
        )
    return total_variation(exact, geometric_pmf(p_suc, k_max))


def optimal_attempt_period(
    model: OpenSystem,
    fidelity_floor: float,
    restart: str = "thermal",
    bounds: tuple[float, float] = DEFAULT_PERIOD_BOUNDS,
    *,
    n_grid: int = 36,
) -> OptimalPeriod:
    """Maximise ``pair_rate`` over T in ``bounds`` subject to fidelity >= floor.

    The fidelity is that of the long-run delivered state (``delivered_state`` with
    k=None) to ``model.machine.target``. A grid of ``n_grid`` points in log T brackets
    the best feasible point, which is then refined on log T: by
    ``scipy.optimize.minimize_scalar`` when the constraint is inactive there, or by
    ``scipy.optimize.brentq`` on fidelity = floor when the best point lies on the
    boundary of the feasible set. A ValueError names the best fidelity in ``bounds``
    when no T reaches the floor.
    """
    model = _check_model(model)
    floor = _check_probability(fidelity_floor, "fidelity_floor")
    restart = _check_restart(restart)
    lo, hi = _check_bounds(bounds)
    n_grid = _check_int(n_grid, "n_grid", 3)
    target = model.machine.target
    if target is None:
        raise ValueError(f"machine {model.machine.name!r} has no target state")
    structure = _Structure(model, restart_state(model, restart))
    cache: dict[float, tuple[float, float]] = {}

    def evaluate(log_T: float) -> tuple[float, float]:
        """(log rate, fidelity) at T = exp(log_T)."""
        if log_T not in cache:
            chain = _Chain(structure, math.exp(log_T))
            log_rate = -log_T - math.log(chain.moments().mean)
            cache[log_T] = (log_rate, fidelity(chain.delivered(None), target))
        return cache[log_T]

    grid = np.linspace(math.log(lo), math.log(hi), n_grid)
    values = np.array([evaluate(float(x)) for x in grid])
    feasible = values[:, 1] >= floor
    if not feasible.any():
        raise ValueError(
            f"fidelity_floor={floor} is not reached for T in [{lo:.3g}, {hi:.3g}]: "
            f"the best fidelity there is {values[:, 1].max():.6f}"
        )
    i = int(np.flatnonzero(feasible)[np.argmax(values[feasible, 0])])
    best = float(grid[i])
    # candidates: the maximiser between the grid neighbours, and the feasible-side
    # roots of fidelity = floor between i and an infeasible neighbour
    candidates = [best]
    left, right = max(i - 1, 0), min(i + 1, n_grid - 1)
    res = opt.minimize_scalar(
        lambda x: -evaluate(float(x))[0],
        bounds=(float(grid[left]), float(grid[right])),
        method="bounded",
        options={"xatol": 1e-9},
    )
    candidates.append(float(res.x))
    for j in {left, right} - {i}:
        if not feasible[j]:
            root = opt.brentq(
                lambda x: evaluate(float(x))[1] - floor, grid[i], grid[j], xtol=1e-13
            )
            candidates.append(_feasible_side(root, float(grid[i]), evaluate, floor))
    ok = [x for x in candidates if evaluate(x)[1] >= floor]
    best = max(ok, key=lambda x: evaluate(x)[0])
    log_rate, fid = evaluate(best)
    active = best not in (float(res.x), float(grid[i])) or _on_boundary(
        best, evaluate, floor
    )
    return OptimalPeriod(math.exp(best), math.exp(log_rate), fid, active)


def _feasible_side(root: float, inside: float, evaluate, floor: float) -> float:
    """Move a root of fidelity = floor towards ``inside`` until it is feasible."""
    x, step = root, 1e-12 * max(1.0, abs(root))
    step = math.copysign(step, inside - root)
    while evaluate(x)[1] < floor and abs(x - root) < abs(inside - root):
        x += step
        step *= 2
    return x if evaluate(x)[1] >= floor else inside


def _on_boundary(x: float, evaluate, floor: float, h: float = 1e-6) -> bool:
    """Whether a small step in log T from x would leave the feasible set."""
    return evaluate(x - h)[1] < floor or evaluate(x + h)[1] < floor


def _check_bounds(bounds: object) -> tuple[float, float]:
    try:
        lo, hi = bounds  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ValueError(
            f"bounds={bounds!r} must be a pair (T_min, T_max) with 0 < T_min < T_max"
        ) from None
    lo = _check_period(lo, "bounds[0]")
    hi = _check_period(hi, "bounds[1]")
    if not lo < hi:
        raise ValueError(f"bounds={bounds!r} must satisfy 0 < T_min < T_max")
    return lo, hi
