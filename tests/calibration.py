"""Stochastic checks as functions of a seed, with one level for every check.

Every stochastic check of the suite is a function ``check(seed) -> Outcome`` kept in
its test module (listed there in ``STOCHASTIC_CHECKS``): the test calls it with its
fixed seed and asserts ``outcome.check()``; ``examples/seed_scan.py`` calls it with
fresh seeds and counts the false alarms. An ``Outcome`` holds

* z values (estimate - exact) / SE of estimates against their exact values,
  standard normal or, for a jackknife SE over G groups, Student t with G - 1
  degrees of freedom;
* p-values of tests against an exact law (chi-square, KS, binomial, order
  statistics);
* bounds on further statistics (an effective sample size, an autocorrelation time)
  and flags (``resolved``) that must hold.

One level for every check: a check with m z values and p-values fails when its
smallest p-value (two-sided p-value of its reference law for a z) is below
1 - (1 - P_MIN)^(1/m), i.e. when the Sidak-adjusted ``tail_p`` = 1 - (1 - min p)^m
is below ``P_MIN`` = 2 P(Z > 4.5) = 6.8e-6. For one normal z this is |z| < 4.5; for
m normal z values it is max|z| < ``z_max(m)`` (4.5 for m = 1, 5.0 for m = 10, 5.4
for m = 100), a Bonferroni-aware threshold: if every z follows its reference law
and every p-value is uniform, a correct engine fails the check with probability at
most P_MIN whatever the correlations between the z values (Sidak's inequality for
the |z| of a Gaussian vector, the union bound otherwise), so that the suite's
nominal false-alarm rate is P_MIN per check, however many elements each one
compares. The seed scan fits the tail of ``tail_p`` over fresh seeds to correct
this nominal level for tails heavier than the reference law.

Two modules keep a level per test instead (``Outcome.per_test``): in
tests/test_relaxation.py every |z| must stay below 4.5 (level 6.8e-6 per z,
Bonferroni level m x 6.8e-6 for a check of m z values), in tests/test_coverage.py
every count of covering intervals must pass its binomial test at 1e-4. Their
``tail_p`` is compared with the Sidak-adjusted 1 - (1 - alpha)^m, which is the
same condition, and the seed scan extrapolates their tails to that level.

A sum of z^2 is not used: the z values of one density matrix are correlated
(populations sum to 1, elements share trajectories), so that sum is not
chi-square distributed, and a Mahalanobis form z^T S^-1 z would need the
covariance S of all elements, which the engine's running sums do not keep (one
variance per element) and which rare elements would leave ill-conditioned.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

Z_MAX = 4.5
"""Threshold on |z| of a check with a single z (``z_max(1)``)."""

P_MIN = float(2 * stats.norm.sf(Z_MAX))
"""Level of every check: 6.8e-6, the two-sided normal tail beyond ``Z_MAX``."""


GOF_MIN_EXPECTED = 50.0
"""Smallest expected count per bin of the chi-square goodness-of-fit checks. With
the usual 5, bins of expected count ~8 (a law of K spread over 60 attempts) give
the Pearson statistic a heavier tail than its chi-square law: over 50000
multinomial samples of 4000 draws from the exact law of K at T = 5, P(p < 1e-4) =
3.6e-4 with bins >= 5, 0.8e-4 with bins >= 50 (and P(p < 1e-3) = 1.8e-3 against
1.2e-3)."""


def z_max(m: int, level: float = P_MIN) -> float:
    """Threshold on max|z| of a check with m tests at ``level`` (``P_MIN``) by
    Sidak."""
    if m < 1:
        return math.inf
    return float(stats.norm.isf(-math.expm1(math.log1p(-level) / m) / 2))


@dataclass(frozen=True)
class Bound:
    """A statistic that must lie in [low, high] (e.g. an effective sample size)."""

    name: str
    value: float
    low: float = -math.inf
    high: float = math.inf

    @property
    def ok(self) -> bool:
        """Whether low <= value <= high (NaN fails)."""
        return bool(self.low <= self.value <= self.high)


@dataclass(frozen=True)
class Outcome:
    """z values, p-values, bounds and flags of one stochastic check at one seed."""

    z: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    dof: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    p: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    bounds: tuple[Bound, ...] = ()
    flags: tuple[tuple[str, bool], ...] = ()
    label: str = ""
    p_min: float = P_MIN
    """Level of ``tail_p``: ``P_MIN`` for every check of the common standard
    (``per_test`` for the two modules that keep a level per test)."""

    @classmethod
    def of(
        cls,
        z: Iterable[ArrayLike] = (),
        p: Iterable[float] = (),
        bounds: Iterable[Bound] = (),
        flags: Iterable[tuple[str, bool]] = (),
        label: str = "",
        t: Iterable[tuple[ArrayLike, float]] = (),
    ) -> Outcome:
        """Build from pieces: ``z`` is a list of scalars or arrays of z values with
        a standard normal reference law; ``t`` a list of (z values, dof) whose SE
        comes from a jackknife over dof + 1 groups (reference law: Student t)."""
        parts = [(x, math.inf) for x in z] + list(t)
        zs = [np.atleast_1d(np.asarray(x, dtype=float)).ravel() for x, _ in parts]
        dofs = [np.full(x.size, float(d)) for x, (_, d) in zip(zs, parts, strict=True)]
        return cls(
            np.concatenate(zs) if zs else np.zeros(0),
            np.concatenate(dofs) if dofs else np.zeros(0),
            np.asarray(list(p), dtype=float),
            tuple(bounds),
            tuple((name, bool(v)) for name, v in flags),
            label,
        )

    def __add__(self, other: Outcome) -> Outcome:
        if self.p_min != other.p_min:
            raise ValueError("outcomes at different levels")
        return Outcome(
            np.concatenate([self.z, other.z]),
            np.concatenate([self.dof, other.dof]),
            np.concatenate([self.p, other.p]),
            self.bounds + other.bounds,
            self.flags + other.flags,
            self.label or other.label,
            self.p_min,
        )

    def per_test(self, alpha: float = P_MIN) -> Outcome:
        """The same statistics at level ``alpha`` per test: the check fails when
        any p-value is below alpha (for alpha = ``P_MIN``: any |z| above
        ``Z_MAX``, whatever the number m of tests), i.e. at the Sidak-adjusted level
        1 - (1 - alpha)^m <= m alpha of ``tail_p``. For the checks whose tests state
        a threshold per z (tests/test_relaxation.py) or per count
        (tests/test_coverage.py) rather than the common level per check."""
        return replace(self, p_min=sidak(alpha, self.n_tests))

    @property
    def n_tests(self) -> int:
        """Number m of z values and p-values."""
        return int(self.z.size + self.p.size)

    @property
    def max_abs_z(self) -> float:
        """Largest |z| (0 without z values, NaN if one is NaN)."""
        return float(np.abs(self.z).max()) if self.z.size else 0.0

    def p_values(self) -> NDArray[np.float64]:
        """Two-sided p-values of the z values (normal, or Student t where ``dof``
        is finite), then the p-values."""
        pz = np.where(
            np.isinf(self.dof),
            2 * stats.norm.sf(np.abs(self.z)),
            2 * stats.t.sf(np.abs(self.z), np.where(np.isinf(self.dof), 1, self.dof)),
        )
        return np.concatenate([pz, self.p])

    @property
    def min_p(self) -> float:
        """Smallest p-value (1 without tests; NaN if a z or p is NaN)."""
        p = self.p_values()
        if p.size == 0:
            return 1.0
        return math.nan if np.isnan(p).any() else float(p.min())

    @property
    def tail_p(self) -> float:
        """Sidak-adjusted smallest p-value, 1 - (1 - min p)^m."""
        return sidak(self.min_p, self.n_tests)

    @property
    def level(self) -> float:
        """Nominal false-alarm level: ``p_min`` (P_MIN unless ``per_test``) with at
        least one test, else 0."""
        return self.p_min if self.n_tests else 0.0

    def failures(self) -> list[str]:
        """Why the check fails (empty when it passes)."""
        out = []
        if not self.tail_p >= self.p_min:
            threshold = z_max(self.n_tests, self.p_min)
            out.append(
                f"tail_p = {self.tail_p:.3g} < {self.p_min:.2g}: max|z| = "
                f"{self.max_abs_z:.2f} (threshold {threshold:.2f} for "
                f"{self.n_tests} tests), min p = {self.min_p:.3g}"
            )
        out += [
            f"{b.name} = {b.value:.6g} not in [{b.low}, {b.high}]"
            for b in self.bounds
            if not b.ok
        ]
        out += [f"{name} is false" for name, ok in self.flags if not ok]
        return out

    @property
    def passed(self) -> bool:
        """Whether every z, p-value, bound and flag passes."""
        return not self.failures()

    def check(self) -> None:
        """Assert that the check passes, with the statistics in the message."""
        failures = self.failures()
        assert not failures, f"{self.label}: " + "; ".join(failures)


def sidak(p: float, m: int) -> float:
    """1 - (1 - p)^m, accurate for small p."""
    if m == 0:
        return 1.0
    if not 0 <= p <= 1:
        return math.nan if math.isnan(p) else min(max(p, 0.0), 1.0)
    if p == 1:
        return 1.0
    return -math.expm1(m * math.log1p(-p))


def binomial_z(count: float, n: int, p: float) -> float:
    """z of a count against Binomial(n, p): (count - n p) / sqrt(n p (1 - p))."""
    return (count - n * p) / math.sqrt(n * p * (1 - p))


def quantile_p_value(sample: ArrayLike, q: float, exact: float) -> float:
    """p-value of the exact q-quantile under the order-statistic test of
    ``analysis.waiting_times.quantile_ci``: its interval at confidence 1 - alpha
    covers ``exact`` exactly when this p-value is >= alpha (up to the ties of the
    binomial quantiles). With B ~ Binomial(n, q): 2 min(P(B <= #{x <= exact}),
    P(B >= #{x < exact})), valid (super-uniform) for any law of x.
    """
    x = np.asarray(sample)
    n = x.size
    n_le = int(np.sum(x <= exact))
    n_lt = int(np.sum(x < exact))
    low = stats.binom.cdf(n_le, n, q)
    high = stats.binom.sf(n_lt - 1, n, q)
    return float(min(1.0, 2 * min(low, high)))


def pooled_chisquare(observed: ArrayLike, expected: ArrayLike, min_expected=5.0):
    """Pearson chi-square p-value of counts against expected counts, with the bins
    of expected count below ``min_expected`` pooled into one (merged with the
    smallest other bin while still below it): the chi-square law of the statistic
    needs expected counts >= 5 (one count in a bin of expected 0.02 adds 50 to the
    statistic)."""
    obs = np.asarray(observed, dtype=float)
    exp = np.asarray(expected, dtype=float)
    order = np.argsort(exp)
    obs, exp = obs[order], exp[order]
    small = int(np.sum(np.cumsum(exp) < min_expected))
    # pool the bins whose running total stays below min_expected, plus one more
    cut = min(small + 1, exp.size - 1) if small else 0
    if cut:
        obs = np.concatenate([[obs[:cut].sum()], obs[cut:]])
        exp = np.concatenate([[exp[:cut].sum()], exp[cut:]])
    return float(stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)
