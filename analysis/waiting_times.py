"""Statistics of sampled waiting times of the heralding protocol: pure array functions.

K is the number of filtering attempts until a success (an integer >= 1; the waiting
time is W = K T). These helpers turn per-attempt success flags into samples of K and
of the first success round of banks of n machines, and compare the samples with an
exact law given as ``pmf[k - 1]`` for k = 1..k_max plus the tail P(K > k_max), the
convention of ``trajectories.exact.attempt_laws``.

Censored samples (no success within the simulated attempts) are encoded as
``n_attempts + 1``: they land in the tail bin of ``empirical_pmf`` and
``chi_square_gof`` whenever k_max <= n_attempts, and are refused by the moment and
quantile estimators (which need the full sample).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analysis.checks import check_int, check_probability


class EmpiricalLaw(NamedTuple):
    """Sample frequencies of k = 1..k_max (``pmf[k - 1]``), the tail and the size."""

    pmf: NDArray[np.float64]
    tail: float
    n: int


class SampleMoments(NamedTuple):
    """Sample mean and standard deviation of K with their standard errors."""

    mean: float
    mean_se: float
    std: float
    std_se: float
    n: int


class QuantileEstimate(NamedTuple):
    """A sample quantile with a distribution-free confidence interval [low, high]."""

    q: float
    estimate: float
    low: float
    high: float
    confidence: float


class GoodnessOfFit(NamedTuple):
    """Pearson chi-square test of sampled K against an exact law.

    ``edges[i]`` is the smallest k of bin i (the last bin runs to infinity);
    ``observed`` and ``expected`` are the counts per bin.
    """

    statistic: float
    dof: int
    p_value: float
    edges: NDArray[np.int64]
    observed: NDArray[np.int64]
    expected: NDArray[np.float64]


# ------------------------------------------------------------------------ validation


def _attempts(k: ArrayLike, name: str = "k") -> NDArray[np.int64]:
    """Samples of K as a 1-d integer array (values >= 1)."""
    try:
        a = np.asarray(k)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of integers >= 1") from None
    if a.ndim != 1 or a.size == 0:
        raise ValueError(
            f"{name} has shape {a.shape}; it must be a non-empty 1-d array"
        )
    if a.dtype == bool or not (
        np.issubdtype(a.dtype, np.integer)
        or (np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a)))
    ):
        raise ValueError(f"{name} must hold integers >= 1 (got dtype {a.dtype})")
    if np.any(a < 1):
        raise ValueError(
            f"{name} has values < 1 (min {a.min()}); K counts attempts from 1"
        )
    return a.astype(np.int64)


def _fraction(value: object, name: str) -> float:
    """A quantile level or a confidence: a probability strictly inside (0, 1)."""
    return check_probability(value, name, open_low=True, open_high=True)


def _flags(success: ArrayLike) -> NDArray[np.bool_]:
    try:
        s = np.asarray(success)
    except (TypeError, ValueError):
        raise ValueError("success must be a boolean array") from None
    if s.dtype != bool and not (
        np.issubdtype(s.dtype, np.integer) and np.all((s == 0) | (s == 1))
    ):
        raise ValueError(f"success must hold booleans (or 0/1), got dtype {s.dtype}")
    if s.ndim != 2 or 0 in s.shape:
        raise ValueError(
            f"success has shape {s.shape}; it must be (n_machines, n_attempts)"
        )
    return s.astype(bool)


def _law(pmf: ArrayLike, tail: float | None) -> tuple[NDArray[np.float64], float]:
    p = np.asarray(pmf, dtype=float)
    if p.ndim != 1 or p.size == 0 or not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("pmf must be a non-empty 1-d array of probabilities >= 0")
    total = float(p.sum())
    if tail is None:
        tail = max(0.0, 1.0 - total)
    tail = float(tail)
    if not (math.isfinite(tail) and tail >= 0):
        raise ValueError(f"tail={tail} must be a probability >= 0")
    if abs(total + tail - 1) > 1e-6:
        raise ValueError(
            f"pmf sums to {total:.9g} and tail={tail:.9g}: together they must be 1"
        )
    return p, tail


# ------------------------------------------------------------------ from the flags


def any_success_probability(p: ArrayLike, n: ArrayLike) -> NDArray[np.float64]:
    """1 - (1 - p)^n, the chance that some of n independent tries of success
    probability p succeeds (Sec. II), through log1p/expm1: exact to rounding for
    p down to the smallest float and n up to any size."""
    p, n = np.asarray(p, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(p < 1, -np.expm1(n * np.log1p(-np.minimum(p, 1.0))), 1.0)


def first_success_attempts(success: ArrayLike) -> NDArray[np.int64]:
    """K of each machine: 1 + the index of its first success (censored: n + 1).

    ``success`` is a boolean array (n_machines, n_attempts), True where the attempt
    succeeded.

    Examples
    --------
    >>> first_success_attempts([[False, True, True], [False, False, False]])
    array([2, 4])
    """
    s = _flags(success)
    first = np.argmax(s, axis=1) + 1
    return np.where(s.any(axis=1), first, s.shape[1] + 1).astype(np.int64)


def renewal_attempts(success: ArrayLike) -> NDArray[np.int64]:
    """Attempts between consecutive successes of each machine (complete cycles only).

    These are samples of K' (the law from the restart state): the cycle that ends at a
    machine's first success (which starts from rho_0) and the unfinished last cycle are
    left out.

    Examples
    --------
    >>> renewal_attempts([[False, True, False, False, True, True, False]])
    array([3, 1])
    """
    s = _flags(success)
    rows, cols = np.nonzero(s)
    gaps = np.diff(cols)
    return gaps[np.diff(rows) == 0].astype(np.int64)


def next_cycle_attempts(success: ArrayLike, window: int) -> NDArray[np.int64]:
    """K' of the cycle that starts at each machine's first success, observed for
    ``window`` attempts (censored: window + 1).

    Only machines whose first success leaves ``window`` attempts to observe are used,
    so every sample has the same censoring point and the law is unbiased (complete
    cycles inside a finite run over-represent short cycles).

    Examples
    --------
    >>> next_cycle_attempts([[True, False, True, False], [False, True, False, False],
    ...                      [False, False, False, True]], 2)
    array([2, 3])
    """
    s = _flags(success)
    w = check_int(window, "window")
    first = np.argmax(s, axis=1)
    ok = s.any(axis=1) & (first + w < s.shape[1])
    rows = np.flatnonzero(ok)
    cycle = s[rows[:, None], first[rows, None] + 1 + np.arange(w)[None, :]]
    return first_success_attempts(cycle)


def bank_first_success_round(success: ArrayLike, n_machines: int) -> NDArray[np.int64]:
    """R of each bank: the first round at which some of its n machines succeeds.

    Rows ``i`` of ``success`` (n_traj, n_attempts) form bank ``i // n_machines`` (the
    machines of a bank attempt in lockstep); banks that never succeed get
    n_attempts + 1.

    Examples
    --------
    >>> flags = [[False, False, True], [False, True, False], [False, False, False],
    ...          [False, False, False]]
    >>> bank_first_success_round(flags, 2)
    array([2, 4])
    """
    s = _flags(success)
    n = check_int(n_machines, "n_machines")
    if s.shape[0] % n:
        raise ValueError(
            f"success has {s.shape[0]} rows, not a multiple of n_machines={n} "
            "(whole banks)"
        )
    banks = s.reshape(s.shape[0] // n, n, s.shape[1]).any(axis=1)
    return first_success_attempts(banks)


def bank_minimum(k: ArrayLike, n_machines: int) -> NDArray[np.int64]:
    """min over consecutive groups of n_machines samples of K (bank rounds from K)."""
    a = _attempts(k)
    n = check_int(n_machines, "n_machines")
    if a.size % n:
        raise ValueError(
            f"k has {a.size} samples, not a multiple of n_machines={n} (whole banks)"
        )
    return a.reshape(-1, n).min(axis=1)


# ------------------------------------------------------------------- the estimators


def empirical_pmf(k: ArrayLike, k_max: int | None = None) -> EmpiricalLaw:
    """Frequencies of K = 1..k_max and of K > k_max (default k_max = max(k)).

    Examples
    --------
    >>> empirical_pmf([1, 1, 2, 5], k_max=2)
    EmpiricalLaw(pmf=array([0.5 , 0.25]), tail=0.25, n=4)
    """
    a = _attempts(k)
    k_max = int(a.max()) if k_max is None else check_int(k_max, "k_max")
    counts = np.bincount(np.minimum(a, k_max + 1), minlength=k_max + 2)
    return EmpiricalLaw(
        counts[1 : k_max + 1] / a.size, float(counts[-1] / a.size), int(a.size)
    )


def sample_moments(k: ArrayLike, censored_at: int | None = None) -> SampleMoments:
    """Mean and standard deviation of K with standard errors.

    SE(mean) = s / sqrt(n); SE(std) from the delta method,
    Var(s^2) ~ (m4 - s^4 (n - 3) / (n - 1)) / n and SE(s) = SE(s^2) / (2 s).
    ``censored_at``: the censoring value (n_attempts + 1); a sample holding it raises a
    ValueError, since the moments of censored data are biased.
    """
    a = _attempts(k).astype(float)
    if a.size < 2:
        raise ValueError(f"k has {a.size} sample; the moments need at least 2")
    if censored_at is not None and np.any(a >= censored_at):
        raise ValueError(
            f"{int(np.sum(a >= censored_at))} samples are censored "
            f"(>= {censored_at}): simulate more attempts"
        )
    n = a.size
    mean = float(a.mean())
    var = float(a.var(ddof=1))
    std = math.sqrt(var)
    m4 = float(np.mean((a - mean) ** 4))
    var_s2 = max((m4 - var**2 * (n - 3) / (n - 1)) / n, 0.0)
    std_se = math.sqrt(var_s2) / (2 * std) if std > 0 else 0.0
    return SampleMoments(mean, std / math.sqrt(n), std, std_se, n)


def quantile_ci(k: ArrayLike, q: float, confidence: float = 0.95) -> QuantileEstimate:
    """The q-quantile of K with an order-statistic (binomial) confidence interval.

    Estimate: the smallest sample value x with F_n(x) >= q (inverted CDF, natural for
    integer K). Interval: that of ``scipy.stats.quantile_test`` (two-sided),
    [x_(l), x_(u)] (order statistics, 1-based) with l = B^{-1}(alpha/2),
    u = B^{-1}(1 - alpha/2) + 1, B ~ Binomial(n, q): coverage >= ``confidence`` for
    any law (conservative for discrete ones). An end that would need an order
    statistic beyond the sample is -inf or +inf.
    """
    a = _attempts(k)
    q = _fraction(q, "q")
    confidence = _fraction(confidence, "confidence")
    estimate = float(np.quantile(a, q, method="inverted_cdf"))
    from scipy import stats  # lazily: 0.5 s of import otherwise

    ci = stats.quantile_test(a, q=estimate, p=q).confidence_interval(confidence)
    low = float(ci.low) if np.isfinite(ci.low) else -math.inf
    high = float(ci.high) if np.isfinite(ci.high) else math.inf
    return QuantileEstimate(q, estimate, low, high, confidence)


def pmf_quantile(pmf: ArrayLike, q: float, tail: float | None = None) -> float:
    """The q-quantile of an exact law: the smallest k with P(K <= k) >= q.

    Returns +inf when the quantile lies in the tail beyond k_max.
    """
    p, _ = _law(pmf, tail)
    q = _fraction(q, "q")
    cdf = np.cumsum(p)
    hit = np.flatnonzero(cdf >= q - 1e-12)
    return float(hit[0] + 1) if hit.size else math.inf


def chi_square_gof(
    k: ArrayLike,
    pmf: ArrayLike,
    tail: float | None = None,
    *,
    min_expected: float = 5.0,
    ddof: int = 0,
) -> GoodnessOfFit:
    """Pearson chi-square test of samples of K against the exact law (pmf, tail).

    Consecutive values of k are merged from k = 1 upwards until each bin expects at
    least ``min_expected`` counts; the tail K > k_max (and any small remainder) is
    merged into the last bin, which runs to infinity. dof = bins - 1 - ``ddof``
    (parameters fitted from the same sample); statistic and p-value from
    ``scipy.stats.chisquare``. A small p-value rejects the law.
    """
    a = _attempts(k)
    p, tail = _law(pmf, tail)
    if not min_expected > 0:
        raise ValueError(f"min_expected={min_expected} must be > 0")
    ddof = check_int(ddof, "ddof", 0)
    n = a.size
    law = np.append(p, tail)  # k = 1..k_max, then K > k_max
    expected_k = n * law / law.sum()  # the law sums to 1 within 1e-6 (``_law``)
    edges, exp_bins, acc = [], [], 0.0
    start = 1
    for i, e in enumerate(expected_k):
        acc += e
        if acc >= min_expected and i < p.size:
            edges.append(start)
            exp_bins.append(acc)
            acc, start = 0.0, i + 2
    if acc > 0 or not edges:
        if exp_bins and acc < min_expected:
            exp_bins[-1] += acc  # merge the remainder (the tail) into the last bin
        else:
            edges.append(start)
            exp_bins.append(acc)
    edges_arr = np.array(edges, dtype=np.int64)
    expected = np.array(exp_bins)
    dof = edges_arr.size - 1 - ddof
    if dof < 1:
        raise ValueError(
            f"only {edges_arr.size} bins with >= {min_expected} expected counts from "
            f"{n} samples (ddof={ddof}): the test needs more samples"
        )
    observed = np.bincount(
        np.searchsorted(edges_arr, a, side="right") - 1, minlength=edges_arr.size
    )
    from scipy import stats

    test = stats.chisquare(observed, expected, ddof=ddof)
    return GoodnessOfFit(
        float(test.statistic),
        int(dof),
        float(test.pvalue),
        edges_arr,
        observed.astype(np.int64),
        expected,
    )
