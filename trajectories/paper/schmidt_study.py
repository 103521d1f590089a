"""Numerical test of the conjecture of App. D: the Eq. D4 machine heralds Eq. D5.

The machine of Eq. D4 (two (d+1)-level systems, H_int = sum_k g lambda_k |d,0><k,d-k|
+ h.c.) in the reset model (Eq. 4) at T_A = inf, T_B = 0, filtered by
Pi_A = 1 - |d><d| and Pi_B = 1 - |0><0|, is conjectured to herald the Schmidt state
sum_k lambda_k |k, k> (Eq. D5; here sum_k lambda_k |k, d-1-k> in the relabelled basis
of ``filters.py``, which is |k, k> after relabelling B) in the limit mu = p_A/p_B -> 0.

In the interaction picture the Liouvillian is p_B times a function of g/p_B and mu only,
so the heralded state depends on (lambda, mu, g/p_B) alone. The functions below compute
the fidelity deficit 1 - F exactly (reduced steady-state solve), fit its scaling in mu,
and give the closed forms found for it:

* 1 - F = c1 mu + c2 mu^2 + O(mu^3), with c1 = (d - sum_k lambda_k^4)/(d + 1)
  independent of g/p_B, and
  c2 = -c1 d/(d+1) + 2 V/(d+1)^2 * x^2/(1 + x^2), x = g/p_B,
  V = sum_k lambda_k^6 - (sum_k lambda_k^4)^2;
* for g/p_B -> 0, or for equal nonzero lambdas at any g, exactly
  1 - F = mu (d - sum_k lambda_k^4)/(d + 1 + d mu).

Derivation of c1: at p_A = 0 the states |k, 0> (k < d) are dark; an A reset feeds
|d, 0>, which H_int couples only to |psi> = sum_k lambda_k |k, d-k>, so each excursion
deposits a time-integrated weight 1/p_B on |psi><psi| in the filtered subspace. The only
first-order weight orthogonal to |psi> comes from A resets during that time, which put
sum_k lambda_k^2 |j, d-k><j, d-k| / (d+1) on every A level j; the filtered part
orthogonal to |psi> has trace (d - sum_k lambda_k^4)/(d+1) per unit mu, and it never
meets H_int (only its coherences with |psi> do, which do not enter 1 - F).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict, Unpack

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analysis.measures import fidelity
from trajectories.exact.states import herald, steady_state
from trajectories.system.machines import schmidt
from trajectories.system.models import ResetModel

P_B = 1e-2
"""Default cold-bath reset rate (the results depend on p_B only through g/p_B)."""

FIT_MUS = tuple(np.geomspace(1e-7, 1e-4, 7))
"""Default mu grid of ``deficit_scaling``: 1 - F is accurate to ~1e-9 relative here."""


class SolveOptions(TypedDict, total=False):
    """Keyword options of ``heralded_state`` passed on by ``fidelity_deficit``."""

    p_B: float
    method: str


def _lambdas(lambdas: ArrayLike) -> NDArray[np.float64]:
    lam = np.asarray(lambdas, dtype=float)
    if lam.ndim != 1 or lam.size < 2 or np.any(lam < 0) or not np.all(np.isfinite(lam)):
        raise ValueError(f"lambdas={lambdas!r} must be >= 2 finite numbers >= 0")
    norm = np.linalg.norm(lam)
    if norm == 0:
        raise ValueError("lambdas must not all vanish")
    return lam / norm


def random_schmidt(d: int, seed: int) -> NDArray[np.float64]:
    """Random Schmidt vector of Eq. D5: lambda^2 uniform on the simplex, fixed seed."""
    if d < 2:
        raise ValueError(f"d={d} must be >= 2")
    rng = np.random.default_rng(seed)
    return np.sqrt(rng.dirichlet(np.ones(d)))


def heralded_state(
    lambdas: ArrayLike,
    mu: float,
    g_over_pB: float = 1.0,
    *,
    p_B: float = P_B,
    method: str = "reduced",
) -> tuple[NDArray[np.complex128], NDArray[np.complex128], float]:
    """(rho', target, p_suc) of the Eq. D4 machine at mu = p_A/p_B (App. D, Eq. D5).

    rho' and the target sum_k lambda_k |k, d-1-k> are in the relabelled filtered basis.
    """
    if not (mu > 0 and math.isfinite(mu)):
        raise ValueError(f"mu={mu} must be finite and > 0")
    machine = schmidt(_lambdas(lambdas), g=g_over_pB * p_B)
    model = ResetModel(machine, p_A=mu * p_B, p_B=p_B, T_A=math.inf, T_B=0.0)
    h = herald(steady_state(model, method=method), machine.filter)
    return h.rho_post, machine.target, h.p_suc


def fidelity_deficit(
    lambdas: ArrayLike,
    mu: float,
    g_over_pB: float = 1.0,
    **options: Unpack[SolveOptions],
) -> float:
    """Exact 1 - F of the heralded state to the Schmidt target (App. D, Eqs. D4-D5).

    ``options``: ``p_B`` and ``method`` of ``heralded_state``.
    """
    rho, target, _ = heralded_state(lambdas, mu, g_over_pB, **options)
    return 1.0 - fidelity(rho, target)


def deficit_prefactor(lambdas: ArrayLike) -> float:
    """Closed form c1 = (d - sum lambda^4)/(d + 1) of 1 - F = c1 mu (App. D, Eq. D5)."""
    lam = _lambdas(lambdas)
    return float((lam.size - np.sum(lam**4)) / (lam.size + 1))


def deficit_second_order(lambdas: ArrayLike, g_over_pB: float) -> float:
    """Coefficient c2 of mu^2 in 1 - F for the Eq. D4 machine (App. D, Eq. D5)."""
    lam = _lambdas(lambdas)
    d = lam.size
    var = np.sum(lam**6) - np.sum(lam**4) ** 2
    x2 = float(g_over_pB) ** 2
    return float(
        -deficit_prefactor(lam) * d / (d + 1) + 2 * var / (d + 1) ** 2 * x2 / (1 + x2)
    )


def deficit_small_g(lambdas: ArrayLike, mu: float) -> float:
    """Exact 1 - F = mu (d - sum lambda^4)/(d + 1 + d mu) for g/p_B -> 0 (App. D)."""
    lam = _lambdas(lambdas)
    d = lam.size
    return float(mu * (d - np.sum(lam**4)) / (d + 1 + d * mu))


def target_negativity(lambdas: ArrayLike) -> float:
    """Negativity sum_{k<l} lambda_k lambda_l of the Schmidt state of Eq. D5."""
    lam = _lambdas(lambdas)
    return float((np.sum(lam) ** 2 - 1.0) / 2)


@dataclass(frozen=True)
class DeficitScaling:
    """Fit log(1 - F) = log(prefactor) + exponent log(mu) + correction mu (App. D)."""

    exponent: float
    prefactor: float
    correction: float
    exponent_stderr: float
    mus: tuple[float, ...]
    deficits: tuple[float, ...]


def deficit_scaling(
    lambdas: ArrayLike,
    g_over_pB: float = 1.0,
    mus: Sequence[float] = FIT_MUS,
    *,
    p_B: float = P_B,
) -> DeficitScaling:
    """Least-squares power law of 1 - F in mu with a linear correction (App. D, D5).

    The correction term absorbs the mu^2 term of 1 - F (``correction`` ~ c2/c1), so
    ``exponent`` and ``prefactor`` estimate the mu -> 0 behaviour without bias.
    """
    mu = np.asarray(mus, dtype=float)
    if mu.ndim != 1 or mu.size < 4 or np.any(mu <= 0):
        raise ValueError("mus must hold at least 4 positive values")
    deficits = np.array([fidelity_deficit(lambdas, m, g_over_pB, p_B=p_B) for m in mu])
    if np.any(deficits <= 0):
        raise ValueError(f"non-positive deficits {deficits}: choose larger mus")
    X = np.column_stack([np.ones_like(mu), np.log(mu), mu])
    y = np.log(deficits)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    dof = mu.size - X.shape[1]
    s2 = float(np.sum((y - X @ coef) ** 2) / dof) if dof > 0 else 0.0
    stderr = math.sqrt(s2 * np.linalg.inv(X.T @ X)[1, 1])
    return DeficitScaling(
        exponent=float(coef[1]),
        prefactor=float(math.exp(coef[0])),
        correction=float(coef[2]),
        exponent_stderr=stderr,
        mus=tuple(float(m) for m in mu),
        deficits=tuple(float(x) for x in deficits),
    )


def linear_coefficient(
    lambdas: ArrayLike, g_over_pB: float = 1.0, mu: float = 1e-6, *, p_B: float = P_B
) -> float:
    """d(1 - F)/dmu at mu = 0 by Richardson extrapolation, error O(mu^2) (App. D)."""
    s1 = fidelity_deficit(lambdas, mu, g_over_pB, p_B=p_B) / mu
    s2 = fidelity_deficit(lambdas, 2 * mu, g_over_pB, p_B=p_B) / (2 * mu)
    return 2 * s1 - s2


def limit_state(
    lambdas: ArrayLike, g_over_pB: float = 1.0, mu: float = 1e-5, *, p_B: float = P_B
) -> NDArray[np.complex128]:
    """rho' extrapolated to mu = 0 (2 rho'(mu) - rho'(2 mu), error O(mu^2)), Eq. D5."""
    r1, _, _ = heralded_state(lambdas, mu, g_over_pB, p_B=p_B)
    r2, _, _ = heralded_state(lambdas, 2 * mu, g_over_pB, p_B=p_B)
    return 2 * r1 - r2
