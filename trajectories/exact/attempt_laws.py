"""Exact laws of the number of attempts K until the first success (Sec. II), for one
machine and for banks of n machines in lockstep.

With S, F and E = exp(L T) as in ``attempt_chain.py``:

* P(K = k) = Tr[S E (F E)^{k-1} rho_0] and P(K > k) = Tr[(F E)^k rho_0];
* E[K] = Tr[(1 - F E)^{-1} rho_0] (solved, not summed);
* n machines in lockstep: P(R > k) = P(K > k)^n for the bank's first success round;
* T >> relaxation time: E -> |rho_ss>><<1| and P(K = k) -> p_suc (1 - p_suc)^{k-1}.

``rho_0`` is None (the steady state), "thermal", "steady" or a (D, D) density matrix.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analysis.waiting_times import any_success_probability
from trajectories.exact.attempt_chain import AttemptMoments, AttemptsLaw, attempt_chain
from trajectories.exact.states import steady_state
from trajectories.system.checks import check_int, check_probability
from trajectories.system.models import OpenSystem, check_model


def attempts_pmf(
    model: OpenSystem,
    attempt_period: float,
    k_max: int,
    rho_0: ArrayLike | str | None = None,
) -> AttemptsLaw:
    """P(K = k) = Tr[S E (F E)^{k-1} rho_0], k = 1..k_max, and the tail P(K > k_max).

    Examples
    --------
    >>> from trajectories.system.machines import qutrit
    >>> from trajectories.system.models import ResetModel
    >>> model = ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01)
    >>> law = attempts_pmf(model, 10.0, 5)
    >>> round(float(law.pmf.sum() + law.tail), 12)
    1.0
    """
    k_max = check_int(k_max, "k_max")
    return attempt_chain(model, attempt_period, rho_0).law(k_max)


def attempts_survival(
    model: OpenSystem,
    attempt_period: float,
    k_max: int,
    rho_0: ArrayLike | str | None = None,
) -> NDArray[np.float64]:
    """P(K > k) = Tr[(F E)^k rho_0] for k = 1..k_max (array of length k_max)."""
    k_max = check_int(k_max, "k_max")
    return attempt_chain(model, attempt_period, rho_0).survival(k_max)[1:]


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
    return attempt_chain(model, attempt_period, rho_0).moments()


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
    n = check_int(n, "n")
    k_max = check_int(k_max, "k_max")
    surv_n = attempt_chain(model, attempt_period, rho_0).survival(k_max) ** n
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
    n = check_int(n, "n")
    p1 = float(attempt_chain(model, attempt_period, rho_0).law(1).pmf[0])
    return float(any_success_probability(p1, n))


def geometric_pmf(p: float, k_max: int) -> AttemptsLaw:
    """The geometric law p (1 - p)^{k-1}, k = 1..k_max, and its tail (1 - p)^k_max."""
    p = check_probability(p, "p", open_low=True)
    k_max = check_int(k_max, "k_max")
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
    model = check_model(model)
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
    k_max = check_int(k_max, "k_max")
    exact = attempt_chain(model, attempt_period, rho_0).law(k_max)
    p_suc = success_probability(model)
    if not p_suc > 0:
        raise ValueError(
            f"p_suc = {p_suc:.3g}: the filter never succeeds on the steady state, "
            "there is no geometric law to compare with"
        )
    return total_variation(exact, geometric_pmf(p_suc, k_max))
