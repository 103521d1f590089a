"""Estimators with standard errors: means, ratio measures, autocorrelation times.

Pure functions of arrays. A standard error (SE) is always that of the estimator it is
returned with; ``z_score`` compares an estimate with an exact value in units of its SE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special


@dataclass(frozen=True)
class Estimate:
    """A scalar estimate with its standard error and sample size."""

    value: float
    se: float
    n: int

    def z(self, exact: float) -> float:
        """(value - exact) / se."""
        return z_score(self.value, self.se, exact)

    def __repr__(self) -> str:
        return f"{self.value:.6g} ± {self.se:.2g} (n={self.n})"


def z_score(value: float, se: float, exact: float) -> float:
    """(value - exact)/se; NaN where undefined (no SE, or a non-finite input)."""
    if not (se > 0 and math.isfinite(se) and math.isfinite(value)):
        return math.nan
    return float((value - exact) / se)


ESS_MIN = 100.0
"""Smallest effective sample size at which an estimate and its SE are reported
(below it: "not resolved"). The coverage study (``examples/coverage_study.py``) measures
the 95% intervals at and above it."""


Z_CRIT = 1.959963984540054
"""Two-sided 95% normal quantile for confidence intervals."""


@dataclass(frozen=True)
class ResolvedEstimate:
    """An estimate whose SE is reported only where the sample supports it.

    ``resolved`` is False (with the ``reason``) below the effective sample size
    ``ESS_MIN`` or where the SE falls below the sample's resolution; the value is
    still given, but its SE, interval and z are NaN ("not resolved").
    """

    value: float
    se: float
    ess: float
    resolved: bool
    reason: str = ""
    df: float = math.inf  # degrees of freedom of the SE (Student t interval)

    @property
    def crit(self) -> float:
        """The two-sided 95% quantile of the interval: normal, or Student t with
        ``df`` degrees of freedom."""
        if math.isinf(self.df):
            return Z_CRIT
        return float(special.stdtrit(self.df, 0.975))  # = scipy.stats.t.ppf

    def scaled(self, factor: float) -> ResolvedEstimate:
        """The estimate of factor * quantity (e.g. a wait K T from K)."""
        return replace(self, value=factor * self.value, se=abs(factor) * self.se)

    def row(self, exact: float, clip_at_zero: bool = False) -> dict[str, object]:
        """value, se, 95% CI, exact, z, ess, resolved (and reason) as a dict.

        ``clip_at_zero``: the estimate is a signed form of a quantity that is
        max(0, .) (negativity, concurrence): value, CI and exact are clipped, z is
        taken on the signed form, where the normal approximation holds.
        """
        se = self.se if self.resolved else math.nan
        low, high = self.value - self.crit * se, self.value + self.crit * se
        z = z_score(self.value, se, exact)
        if clip_at_zero:
            low, high = max(low, 0.0), max(high, 0.0)
            value, exact = max(self.value, 0.0), max(exact, 0.0)
        else:
            value = self.value
        return {
            "value": value,
            "se": se,
            "ci_low": low,
            "ci_high": high,
            "exact": exact,
            "z": z,
            "ess": self.ess,
            "resolved": self.resolved,
            "reason": self.reason,
            "crit": self.crit,
        }


def mean_estimate(total: float, total_sq: float, n: int) -> ResolvedEstimate:
    """Mean of n non-negative samples from their sums, SE std/sqrt(n), resolved
    when the Kish ESS (sum x)^2 / sum x^2 reaches ``ESS_MIN`` (for 0/1 flags: the
    number of ones)."""
    ess = ess_from_sums(total, total_sq)
    if n < 2:
        return ResolvedEstimate(math.nan, math.nan, ess, False, f"n = {n} < 2")
    mean, se = moments_mean_se(np.float64(total), np.float64(total_sq), n)
    ok = ess >= ESS_MIN
    reason = "" if ok else f"effective sample size {ess:.3g} < {ESS_MIN:g}"
    return ResolvedEstimate(float(mean), float(se), ess, ok, reason)


def count_mean_estimate(samples: ArrayLike) -> ResolvedEstimate:
    """Mean of independent samples (e.g. attempts K) with SE std/sqrt(n), resolved
    when n reaches ``ESS_MIN`` and the sample varies (a constant sample cannot tell
    its own spread)."""
    x = np.asarray(samples, dtype=float)
    if x.size < 2:
        return ResolvedEstimate(
            float(x.mean()) if x.size else math.nan,
            math.nan,
            x.size,
            False,
            f"n = {x.size} < 2",
        )
    mean, se = float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))
    if x.size < ESS_MIN:
        return ResolvedEstimate(
            mean, se, x.size, False, f"sample size {x.size} < {ESS_MIN:g}"
        )
    if not se > 0:
        return ResolvedEstimate(mean, se, x.size, False, "no variation in the sample")
    return ResolvedEstimate(mean, se, x.size, True)


def jackknife_df(replicates: ArrayLike) -> float:
    """Effective degrees of freedom of a delete-one-group jackknife variance.

    The variance is a sum of G squared deviations d_g; with kurtosis k of the d_g,
    its relative variance is (k - 1)/G, that of chi^2_nu / nu is 2/nu: nu = 2G/(k - 1),
    with k estimated as G sum d^4 / (sum d^2)^2 (nu ~ G for normal deviations, ~2 when
    one group carries the variance), capped at G - 1."""
    d = np.asarray(replicates, dtype=float)
    d = d - d.mean()
    G = d.size
    s2, s4 = float(np.sum(d**2)), float(np.sum(d**4))
    if not s4 > 0:
        return 0.0
    kurtosis = G * s4 / s2**2
    return min(G - 1.0, 2.0 * G / (kurtosis - 1.0)) if kurtosis > 1 else G - 1.0


def measure_estimate(
    value: float, se: float, ess: float, span: float, df: float = math.inf
) -> ResolvedEstimate:
    """A function of a ratio estimator with a jackknife SE of ``df`` effective
    degrees of freedom (``jackknife_df``: a Student t interval), resolved when the
    weights' ESS reaches ``MEASURE_ESS_MIN``, df >= ``DF_MIN`` and se >= span * 3 / ESS
    (the shift that a component unseen by the sample, of weight up to 3/ESS, could
    cause)."""
    if not ess >= MEASURE_ESS_MIN:
        reason = f"effective sample size {ess:.3g} < {MEASURE_ESS_MIN:g}"
        return ResolvedEstimate(value, se, ess, False, reason, df)
    floor = span * 3.0 / ess
    if not se >= floor:
        reason = f"SE {se:.2g} below the sample's resolution {floor:.2g}"
        return ResolvedEstimate(value, se, ess, False, reason, df)
    if not df >= DF_MIN:
        reason = f"the SE rests on {df:.2g} < {DF_MIN:g} effective degrees of freedom"
        return ResolvedEstimate(value, se, ess, False, reason, df)
    return ResolvedEstimate(value, se, ess, True, "", df)


MEASURE_ESS_MIN = 500.0
"""Smallest effective sample size of the weights at which a (nonlinear) measure of
rho' is reported: below it the ratio estimator's law is too skewed for a symmetric
interval (the coverage study found 88-92% at ESS ~ 200, 94-96% from ~ 600)."""

DF_MIN = 2.0
"""Fewest effective degrees of freedom of a jackknife SE (below: one or two groups
of machines carry the whole variance)."""

COUNT_MIN = 10.0
"""Smallest expected count n min(p, 1 - p) at which a frequency is compared with its
exact probability through the binomial SE of that probability (a score test)."""


def kish_ess(weights: ArrayLike) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 of non-negative weights.

    For per-machine contributions w_i to a mean or ratio (Born probabilities, success
    flags) it counts the machines that carry the estimate: n for equal weights, the
    number of successes for 0/1 flags, ~1 when one machine dominates; 0 when all
    vanish.
    """
    w = np.asarray(weights, dtype=float)
    return ess_from_sums(float(w.sum()), float((w**2).sum()))


def ess_from_sums(total: float, total_sq: float) -> float:
    """``kish_ess`` from the running sums of w and w^2."""
    return float(total**2 / total_sq) if total_sq > 0 else 0.0


def moments_mean_se(
    total: NDArray, total_sq: NDArray, n: int
) -> tuple[NDArray, NDArray]:
    """Mean and SE from running sums of x and x^2 over n independent samples.

    For complex x pass the sums of Re/Im squares as ``total_sq.real``/``.imag``; the SE
    is returned as se(Re) + 1j se(Im).
    """
    if n < 2:
        raise ValueError(f"need at least 2 samples for a standard error, got n={n}")
    mean = total / n
    if np.iscomplexobj(total):
        var_re = (total_sq.real - n * mean.real**2) / (n - 1)
        var_im = (total_sq.imag - n * mean.imag**2) / (n - 1)
        se = np.sqrt(np.clip(var_re, 0, None) / n) + 1j * np.sqrt(
            np.clip(var_im, 0, None) / n
        )
        return mean, se
    var = (total_sq - n * mean**2) / (n - 1)
    return mean, np.sqrt(np.clip(var, 0, None) / n)


def integrated_autocorrelation_time(
    batch_means_var: float, batch_length: float, variance: float
) -> float:
    """tau_int = b Var(batch mean) / (2 sigma^2) for batches of duration b.

    For a stationary process with variance sigma^2 the mean over a window b >> tau_int
    has variance 2 tau_int sigma^2 / b: a time average of duration T is worth
    T / (2 tau_int) independent samples.
    """
    if variance <= 0:
        return math.nan
    return float(batch_length * batch_means_var / (2.0 * variance))


def binomial_se(p: float, n: int) -> float:
    """The SE of a frequency among ``n`` trials of probability ``p`` (the score-test
    SE when ``p`` is the exact value); NaN for n = 0."""
    return math.sqrt(max(p * (1 - p), 0.0) / n) if n else math.nan
