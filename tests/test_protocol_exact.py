"""Exact laws of the heralding protocol against brute-force evaluations.

Measured false-alarm rate: 4.5e-6 per change of random stream (95% upper bound
1.7e-4; 45 seeds, `python examples/seed_scan.py --checks 'protocol_exact:*' --seeds
45 --first-seed 2000000`; no failure): its one stochastic
check, sampled bank minima against the bank law (chi-square); the rest is exact.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pytest
import scipy.linalg as la
from calibration import GOF_MIN_EXPECTED, Bound, Outcome
from conftest import fig5b_model
from scipy.special import comb

from analysis.measures import fidelity
from analysis.waiting_times import bank_minimum, chi_square_gof
from trajectories.exact.attempt_chain import attempt_maps, propagator
from trajectories.exact.attempt_laws import (
    attempts_pmf,
    attempts_survival,
    bank_first_success_pmf,
    geometric_deviation,
    geometric_pmf,
    mean_attempts,
    round_success_probability,
    success_probability,
    total_variation,
)
from trajectories.exact.delivered_pairs import delivered_state, pair_rate
from trajectories.exact.optimal_period import optimal_attempt_period
from trajectories.exact.starts import restart_state
from trajectories.exact.states import evolve, herald, steady_state
from trajectories.system.baths import thermal_state
from trajectories.system.filters import Filter
from trajectories.system.machines import qudit, qutrit
from trajectories.system.models import LindbladModel, ResetModel

MODELS = {
    # relaxation time 1 / p_A = 500
    "qutrit": ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01),
    "qudit3": ResetModel(qudit(3, g=0.01), p_A=0.002, p_B=0.01),
    # relaxation time ~ 2.7e3 (spectral gap 3.67e-4)
    "lindblad": fig5b_model(),
}
SHORT = {"qutrit": 10.0, "qudit3": 10.0, "lindblad": 100.0}
LONG = {"qutrit": 1e4, "qudit3": 1e4, "lindblad": 1e5}  # >= 20 relaxation times


@pytest.fixture(scope="module")
def models() -> dict[str, ResetModel | LindbladModel]:
    return MODELS


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """The dense products here are small: one BLAS thread avoids oversubscription."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: only the speed of the tests depends on it
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


# ----------------------------------------------------------- brute-force references


def _outcome_projectors(model) -> tuple[np.ndarray, list[np.ndarray]]:
    P = model.machine.filter.joint_projectors()
    return P["pass_pass"], [P["pass_fail"], P["fail_pass"], P["fail_fail"]]


def _chain_by_evolve(model, T: float, k_max: int, rho0: np.ndarray):
    """P(K = k) and the pairs at k: e^{LT} on matrices (expm_multiply), then P rho P."""
    P_ok, P_fail = _outcome_projectors(model)
    V = model.machine.filter.isometry()
    rho, pmf, pairs = rho0, [], []
    for _ in range(k_max):
        rho = evolve(model, rho, [T])[0]
        ok = P_ok @ rho @ P_ok
        pmf.append(np.trace(ok).real)
        pairs.append(V.conj().T @ ok @ V)
        rho = sum(P @ rho @ P for P in P_fail)
    return np.array(pmf), pairs, np.trace(rho).real


@functools.cache
def _superoperators(name: str, T: float):
    """Full-space E, S, F (column stacking) built directly from kron(P^T, P)."""
    model = MODELS[name]
    E = la.expm(model.liouvillian().toarray() * T)
    P_ok, P_fail = _outcome_projectors(model)
    S = np.kron(P_ok.T, P_ok)
    F = sum(np.kron(P.T, P) for P in P_fail)
    return E, S, F


def _geometric_series(M: np.ndarray, doublings: int) -> np.ndarray:
    """sum_{k < 2^doublings} M^k by binary splitting: G <- G + M^{2^j} G."""
    G, P = np.eye(M.shape[0], dtype=M.dtype), M
    for _ in range(doublings):
        G = G + P @ G
        P = P @ P
    return G


def _trace(D: int) -> np.ndarray:
    return np.eye(D).ravel()  # vec(I) is the same in both stacking orders


# ---------------------------------------------------------------------- the law


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("length", ["short", "long"])
@pytest.mark.parametrize("rho_0", [None, "thermal"])
def test_pmf_and_tail_sum_to_one(models, name: str, length: str, rho_0) -> None:
    T = SHORT[name] if length == "short" else LONG[name]
    law = attempts_pmf(models[name], T, 50, rho_0)
    assert law.pmf.shape == (50,)
    assert np.all(law.pmf >= 0)
    assert 0 <= law.tail <= 1
    assert law.pmf.sum() + law.tail == pytest.approx(1.0, abs=1e-12)
    surv = attempts_survival(models[name], T, 50, rho_0)
    np.testing.assert_allclose(surv, 1 - np.cumsum(law.pmf), atol=1e-12)
    assert surv[-1] == pytest.approx(law.tail, abs=1e-14)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("rho_0", ["steady", "thermal"])
def test_pmf_matches_evolution_of_the_collapsed_state(models, name, rho_0) -> None:
    model = models[name]
    rho = steady_state(model) if rho_0 == "steady" else restart_state(model, rho_0)
    want, _, tail = _chain_by_evolve(model, SHORT[name], 12, rho)
    law = attempts_pmf(model, SHORT[name], 12, rho_0)
    np.testing.assert_allclose(law.pmf, want, rtol=1e-9, atol=1e-13)
    assert law.tail == pytest.approx(tail, rel=1e-9)


@pytest.mark.parametrize("name", list(MODELS))
def test_pmf_matches_explicit_matrix_powers(models, name) -> None:
    model, T = models[name], 0.5 * (SHORT[name] + 200)
    E, S, F = _superoperators(name, T)
    x0 = steady_state(model).reshape(-1, order="F")
    t = _trace(model.machine.dim)
    ks = [1, 2, 7, 40]
    want = [(t @ S @ E @ np.linalg.matrix_power(F @ E, k - 1) @ x0).real for k in ks]
    law = attempts_pmf(model, T, 40, rho_0=steady_state(model))
    np.testing.assert_allclose(law.pmf[np.array(ks) - 1], want, rtol=1e-9)
    tail = (t @ np.linalg.matrix_power(F @ E, 40) @ x0).real
    assert law.tail == pytest.approx(tail, rel=1e-9)


def test_non_diagonal_filter() -> None:
    """A filter that mixes levels: the closed support of the chain grows, same law."""
    base = qutrit(g=0.01)
    plus = np.array([1, 0, 1]) / np.sqrt(2)
    pi_B = np.outer(plus, plus) + np.diag([0, 1, 0])
    machine = dataclasses.replace(
        base, filter=Filter(base.filter.pi_A, pi_B), target=None
    )
    model = ResetModel(machine, p_A=0.002, p_B=0.01)
    rho = restart_state(model, "thermal")
    want, pairs, tail = _chain_by_evolve(model, 25.0, 8, rho)
    law = attempts_pmf(model, 25.0, 8, "thermal")
    np.testing.assert_allclose(law.pmf, want, rtol=1e-9)
    assert law.tail == pytest.approx(tail, rel=1e-9)
    got = delivered_state(model, 25.0, k=3)
    np.testing.assert_allclose(got, pairs[2] / want[2], atol=1e-9)


def test_thermal_restart_state(models) -> None:
    lind = models["lindblad"]
    m = lind.machine
    want = np.kron(thermal_state(m.energies_A, 3.0), thermal_state(m.energies_B, 0.2))
    np.testing.assert_allclose(restart_state(lind, "thermal"), want, atol=1e-15)
    reset = models["qutrit"]
    tau = np.diag(np.kron(reset.tau_A, reset.tau_B))
    np.testing.assert_allclose(restart_state(reset, "thermal"), tau, atol=0)
    np.testing.assert_allclose(
        restart_state(reset, "steady"), steady_state(reset), atol=0
    )


def test_propagator_and_attempt_maps(models) -> None:
    model = models["qutrit"]
    D = model.machine.dim
    rho = restart_state(model, "thermal")
    E = propagator(model, 37.0)
    got = (E @ rho.reshape(-1, order="F")).reshape(D, D, order="F")
    np.testing.assert_allclose(got, evolve(model, rho, [37.0])[0], atol=1e-12)
    S, F = attempt_maps(model.machine.filter)
    _, S_ref, F_ref = _superoperators("qutrit", 1.0)
    np.testing.assert_array_equal(S, S_ref)
    np.testing.assert_array_equal(F, F_ref)
    t = _trace(D)
    np.testing.assert_allclose(t @ (S + F), t, atol=0)  # the four outcomes sum to 1


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("T", [0.3, 10.0, 1e3, 1e5])
def test_first_attempt_from_steady_state_is_p_suc(models, name, T) -> None:
    model = models[name]
    p_suc = herald(steady_state(model), model.machine.filter).p_suc
    assert success_probability(model) == pytest.approx(p_suc, rel=1e-12)
    assert attempts_pmf(model, T, 1).pmf[0] == pytest.approx(p_suc, rel=1e-9)


# -------------------------------------------------------------- geometric limit


@pytest.mark.parametrize("name", list(MODELS))
def test_long_period_is_geometric(models, name) -> None:
    model = models[name]
    p_suc = success_probability(model)
    law = attempts_pmf(model, LONG[name], 400)
    geo = geometric_pmf(p_suc, 400)
    np.testing.assert_allclose(law.pmf, geo.pmf, rtol=1e-9, atol=1e-15)
    assert total_variation(law, geo) < 1e-9
    assert geometric_deviation(model, LONG[name], 400) < 1e-9
    moments = mean_attempts(model, LONG[name])
    assert moments.mean == pytest.approx(1 / p_suc, rel=1e-9)
    assert moments.variance == pytest.approx((1 - p_suc) / p_suc**2, rel=1e-8)


@pytest.mark.parametrize(
    ("name", "tv_min"),
    # observed TV: 0.823 (qutrit, T = 10), 0.801 (qudit3, T = 10), 0.510 (lindblad,
    # T = 100): after a failure the collapsed machine is far from the steady state
    [("qutrit", 0.8), ("qudit3", 0.75), ("lindblad", 0.5)],
)
def test_short_period_is_not_geometric(models, name, tv_min) -> None:
    model = models[name]
    tv = geometric_deviation(model, SHORT[name], 3000)
    assert tv > tv_min
    law = attempts_pmf(model, SHORT[name], 2)
    p_suc = success_probability(model)
    # the second attempt is far less likely than p_suc (1 - p_suc): for the qutrit at
    # T = 10, P(K = 2) = 7.4e-4 vs 4.6e-2 geometric
    assert law.pmf[1] < 0.1 * p_suc * (1 - p_suc)
    assert mean_attempts(model, SHORT[name]).mean > 4 / p_suc


def test_tv_distance_decreases_with_the_period(models) -> None:
    model = models["qutrit"]
    tv = [geometric_deviation(model, T, 2000) for T in (10.0, 100.0, 1e3, 1e4)]
    assert tv[0] > tv[1] > tv[2] > tv[3]
    # exponential approach: relaxation time 500
    assert tv[2] < 0.05
    assert tv[3] < 1e-9


# ----------------------------------------------------------------------- moments


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("rho_0", [None, "thermal"])
def test_mean_and_variance_equal_the_series(models, name, rho_0) -> None:
    model, T = models[name], SHORT[name]
    moments = mean_attempts(model, T, rho_0)
    k_max = int(45 * moments.mean)
    law = attempts_pmf(model, T, k_max, rho_0)
    assert law.tail < 1e-15
    k = np.arange(1, k_max + 1)
    assert moments.mean == pytest.approx(np.sum(k * law.pmf), rel=1e-9)
    var = np.sum(k**2 * law.pmf) - np.sum(k * law.pmf) ** 2
    assert moments.variance == pytest.approx(var, rel=1e-8)
    assert moments.std == pytest.approx(math.sqrt(var), rel=1e-8)


# ------------------------------------------------------------------ bank of n


@pytest.mark.parametrize("n", [1, 2, 5, 20])
def test_bank_law_against_independent_copies(models, n) -> None:
    model, T = models["qutrit"], 30.0
    k_max = 60
    law = attempts_pmf(model, T, k_max)
    surv = np.concatenate([[1.0], 1 - np.cumsum(law.pmf)])
    # some of the n succeed at round k and the others are still waiting
    want = [
        sum(
            comb(n, j) * law.pmf[k - 1] ** j * surv[k] ** (n - j)
            for j in range(1, n + 1)
        )
        for k in range(1, k_max + 1)
    ]
    bank = bank_first_success_pmf(model, T, n, k_max)
    np.testing.assert_allclose(bank.pmf, want, rtol=1e-9, atol=1e-300)
    assert bank.pmf.sum() + bank.tail == pytest.approx(1.0, abs=1e-12)
    assert bank.tail == pytest.approx(law.tail**n, rel=1e-9)
    p_suc = success_probability(model)
    p_round = round_success_probability(model, T, n)
    assert p_round == pytest.approx(1 - (1 - p_suc) ** n, rel=1e-9)
    assert p_round == pytest.approx(bank.pmf[0], rel=1e-9)
    if n == 1:
        np.testing.assert_allclose(bank.pmf, law.pmf, rtol=1e-12)


def test_bank_of_two_by_the_joint_chain(models) -> None:
    """Two machines as one system: X = vec(rho) vec(rho)^T evolves as E X E^T."""
    model, T = models["qutrit"], 30.0
    E, _, F = _superoperators("qutrit", T)
    x0 = steady_state(model).reshape(-1, order="F")
    t = _trace(model.machine.dim)
    X = np.outer(x0, x0)
    want = []
    for _ in range(25):
        X = E @ X @ E.T
        both_fail = F @ X @ F.T
        want.append((t @ X @ t - t @ both_fail @ t).real)
        X = both_fail
    bank = bank_first_success_pmf(model, T, 2, 25)
    np.testing.assert_allclose(bank.pmf, want, rtol=1e-9)
    assert bank.tail == pytest.approx((t @ X @ t).real, rel=1e-9)


def check_bank_law_against_sampled_minima(seed: int = 20240611) -> Outcome:
    """min of n iid draws of K (inverse CDF) follows the bank law (chi-square); the
    geometric law is rejected (negative control, p < 1e-6)."""
    model, T, n = MODELS["qutrit"], 10.0, 5
    law = attempts_pmf(model, T, 4000)
    cdf = np.cumsum(law.pmf)
    rng = np.random.default_rng(seed)
    k = np.searchsorted(cdf, rng.random(n * 4000), side="right") + 1
    rounds = bank_minimum(k, n)
    bank = bank_first_success_pmf(model, T, n, 4000)
    geo = geometric_pmf(1 - (1 - success_probability(model)) ** n, 4000)
    p_geo = chi_square_gof(rounds, geo.pmf, geo.tail, min_expected=GOF_MIN_EXPECTED)
    p_geo = p_geo.p_value
    return Outcome.of(
        p=[
            chi_square_gof(
                rounds, bank.pmf, bank.tail, min_expected=GOF_MIN_EXPECTED
            ).p_value
        ],
        bounds=[
            Bound(
                "log10 p of the geometric law",
                math.log10(p_geo) if p_geo > 0 else -math.inf,
                high=-6,
            )
        ],
        label="bank law against sampled minima",
    )


STOCHASTIC_CHECKS = {"bank-law-sampled-minima": check_bank_law_against_sampled_minima}
"""Every stochastic check of this module as a function of the seed."""


def test_bank_law_against_sampled_minima() -> None:
    check_bank_law_against_sampled_minima().check()


# ------------------------------------------------------- delivered pairs, rate


@pytest.mark.parametrize("name", list(MODELS))
def test_delivered_state_at_attempt_k(models, name) -> None:
    model, T = models[name], SHORT[name]
    rho = restart_state(model, "thermal")
    pmf, pairs, _ = _chain_by_evolve(model, T, 6, rho)
    for k in (1, 2, 6):
        got = delivered_state(model, T, k=k)
        np.testing.assert_allclose(got, pairs[k - 1] / pmf[k - 1], atol=1e-9)
        assert np.trace(got).real == pytest.approx(1.0, abs=1e-12)
    # from the steady state, the first pair is the rho' of Eq. 5
    rho_ss = steady_state(model)
    first = delivered_state(model, T, k=1, rho_0=rho_ss)
    want = herald(rho_ss, model.machine.filter).rho_post
    np.testing.assert_allclose(first, want, atol=1e-10)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("restart", ["thermal", "steady"])
def test_long_run_state_and_rate_equal_the_series(models, name, restart) -> None:
    model, T = models[name], SHORT[name]
    mean = mean_attempts(model, T, restart).mean
    k_max = int(45 * mean)
    law = attempts_pmf(model, T, k_max, restart)
    assert law.tail < 1e-15
    k = np.arange(1, k_max + 1)
    rate = pair_rate(model, T, restart)
    assert rate == pytest.approx(1 / (T * np.sum(k * law.pmf)), rel=1e-9)
    # sum_k V^dag S E (F E)^{k-1} rho_restart V in full space, 2^17 terms summed by
    # binary splitting (the terms beyond are < 1e-50)
    E, S, F = _superoperators(name, T)
    D = model.machine.dim
    x = restart_state(model, restart).reshape(-1, order="F")
    G = _geometric_series(F @ E, 17)
    total = S @ E @ (G @ x)
    t = _trace(D)
    assert (t @ G @ x).real == pytest.approx(mean, rel=1e-9)  # E[K] = sum P(K > k)
    V = model.machine.filter.isometry()
    want = V.conj().T @ total.reshape(D, D, order="F") @ V
    assert np.trace(want).real == pytest.approx(1.0, abs=1e-12)  # eventual success
    got = delivered_state(model, T, restart=restart)
    np.testing.assert_allclose(got, want / np.trace(want), atol=1e-10)


def test_long_period_delivers_rho_prime(models) -> None:
    model = models["qutrit"]
    rho_prime = herald(steady_state(model), model.machine.filter).rho_post
    for restart in ("thermal", "steady"):
        got = delivered_state(model, 1e4, restart=restart)
        np.testing.assert_allclose(got, rho_prime, atol=1e-9)
    assert pair_rate(model, 1e4) == pytest.approx(
        success_probability(model) / 1e4, rel=1e-9
    )


# ---------------------------------------------------------- optimal attempt period


@pytest.mark.parametrize(
    ("name", "floor", "active"),
    [("qutrit", 0.9, False), ("qutrit", 0.99, True), ("lindblad", 0.9, True)],
)
def test_optimal_attempt_period(models, name, floor, active) -> None:
    model = models[name]
    best = optimal_attempt_period(model, floor)
    T = best.attempt_period
    target = model.machine.target

    def fid(T: float) -> float:
        return fidelity(delivered_state(model, T), target)

    assert best.constraint_active is active
    assert best.fidelity >= floor
    assert best.fidelity == pytest.approx(fid(T), abs=1e-12)
    assert best.rate == pytest.approx(pair_rate(model, T), rel=1e-12)
    if active:
        assert best.fidelity == pytest.approx(floor, abs=1e-8)
    for step in (1e-3, 1e-2):
        for T_near in (T * (1 - step), T * (1 + step)):
            if fid(T_near) >= floor:
                assert pair_rate(model, T_near) <= best.rate * (1 + 1e-9)
    # the optimum beats a coarse scan of feasible periods
    for T_scan in np.logspace(0, 4, 17):
        if fid(T_scan) >= floor:
            assert pair_rate(model, T_scan) <= best.rate * (1 + 1e-9)


def test_optimal_attempt_period_infeasible_floor(models) -> None:
    with pytest.raises(ValueError, match=r"fidelity_floor=0\.999.*best fidelity"):
        optimal_attempt_period(models["qutrit"], 0.999, "steady")


# ------------------------------------------------------------------ bad inputs


def test_machine_that_never_succeeds() -> None:
    model = ResetModel(qutrit(g=0.0), p_A=0.002, p_B=0.01)  # B never leaves |0>
    law = attempts_pmf(model, 10.0, 5)
    np.testing.assert_array_equal(law.pmf, 0.0)
    assert law.tail == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"singular.*never succeeds"):
        mean_attempts(model, 10.0)
    with pytest.raises(ValueError, match=r"singular.*never succeeds"):
        pair_rate(model, 10.0)
    with pytest.raises(ValueError, match=r"never succeeds at attempt k=2"):
        delivered_state(model, 10.0, k=2)
    with pytest.raises(ValueError, match=r"p_suc = 0"):
        geometric_deviation(model, 10.0, 5)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: attempts_pmf(m, 0.0, 5), r"attempt_period=0\.0"),
        (lambda m: attempts_pmf(m, -1.0, 5), r"attempt_period=-1\.0.*> 0"),
        (lambda m: attempts_pmf(m, math.inf, 5), r"attempt_period=inf"),
        (lambda m: attempts_pmf(m, math.nan, 5), r"attempt_period=nan"),
        (lambda m: attempts_pmf(m, "10", 5), r"attempt_period='10'"),
        (lambda m: attempts_pmf(m, 10.0, 0), r"k_max=0 must be an integer >= 1"),
        (lambda m: attempts_pmf(m, 10.0, 2.5), r"k_max=2\.5"),
        (lambda m: attempts_pmf(m, 10.0, True), r"k_max=True"),
        (lambda m: attempts_survival(m, 10.0, -3), r"k_max=-3"),
        (lambda m: attempts_pmf(m, 10.0, 5, "hot"), r"rho_0='hot'"),
        (lambda m: attempts_pmf(m, 10.0, 5, np.eye(3)), r"rho_0 has shape \(3, 3\)"),
        (lambda m: attempts_pmf(m, 10.0, 5, np.eye(9)), r"rho_0 has trace 9"),
        (lambda m: bank_first_success_pmf(m, 10.0, 0, 5), r"n=0 must be an integer"),
        (lambda m: round_success_probability(m, 10.0, 1.5), r"n=1\.5"),
        (lambda m: delivered_state(m, 10.0, restart="cold"), r"restart='cold'"),
        (lambda m: delivered_state(m, 10.0, k=0), r"k=0 must be an integer >= 1"),
        (lambda m: pair_rate(m, 10.0, restart=None), r"restart=None"),
        (lambda m: optimal_attempt_period(m, 1.5), r"fidelity_floor=1\.5.*\[0, 1\]"),
        (lambda m: optimal_attempt_period(m, -0.1), r"fidelity_floor=-0\.1"),
        (lambda m: optimal_attempt_period(m, 0.9, bounds=(10, 1)), r"bounds="),
        (lambda m: optimal_attempt_period(m, 0.9, bounds=(0, 1)), r"bounds\[0\]=0"),
        (lambda m: geometric_deviation(m, 10.0, 0), r"k_max=0"),
        (lambda m: mean_attempts("model", 10.0), r"model='model'"),
        (lambda m: geometric_pmf(0.0, 5), r"p=0\.0 must be in \(0, 1\]"),
        (lambda m: geometric_pmf(1.2, 5), r"p=1\.2"),
    ],
)
def test_bad_input(models, call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call(models["qutrit"])
