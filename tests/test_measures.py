"""Entanglement and quality measures against closed forms, exact to 1e-12.

Closed forms used: Bell states and maximally entangled qudits, pure states with
Schmidt coefficients lambda (N = ((sum lambda)^2 - 1)/2), and the two-qubit Werner
state p |psi^-><psi^-| + (1 - p) 1/4 (N = max(0, (3p - 1)/4), C = max(0, (3p - 1)/2),
CHSH = 2 sqrt(2) p, purity (1 + 3 p^2)/4).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.linalg as la
from numpy.typing import NDArray

from analysis.measures import (
    chsh_max,
    concurrence,
    correlation_matrix,
    fidelity,
    log_negativity,
    negativity,
    partial_transpose,
    purity,
)

TOL = 1e-12
SQ2 = math.sqrt(2.0)
BELL_VECTORS = {
    "phi+": np.array([1, 0, 0, 1]) / SQ2,
    "phi-": np.array([1, 0, 0, -1]) / SQ2,
    "psi+": np.array([0, 1, 1, 0]) / SQ2,
    "psi-": np.array([0, 1, -1, 0]) / SQ2,
    "psi+i": np.array([0, 1, 1j, 0]) / SQ2,  # the qubit-qubit target of App. G1
}


def dm(psi: NDArray[np.complex128]) -> NDArray[np.complex128]:
    psi = np.asarray(psi, dtype=complex)
    psi = psi / np.linalg.norm(psi)
    return np.outer(psi, psi.conj())


def werner(p: float) -> NDArray[np.complex128]:
    return p * dm(BELL_VECTORS["psi-"]) + (1 - p) * np.eye(4) / 4


def schmidt_state(lam: NDArray[np.float64]) -> NDArray[np.complex128]:
    """sum_k lambda_k |k, d-1-k> (the Eq. D5 target in the relabelled basis)."""
    d = lam.size
    psi = np.zeros(d * d, dtype=complex)
    for k in range(d):
        psi[k * d + (d - 1 - k)] = lam[k]
    return psi


def random_state(D: int, seed: int, rank: int | None = None) -> NDArray[np.complex128]:
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(D, rank or D)) + 1j * rng.normal(size=(D, rank or D))
    rho = G @ G.conj().T
    return rho / np.trace(rho).real


# ------------------------------------------------------------- Bell states


@pytest.mark.parametrize("name", sorted(BELL_VECTORS))
def test_bell_states(name: str) -> None:
    psi = BELL_VECTORS[name]
    rho = dm(psi)
    assert negativity(rho) == pytest.approx(0.5, abs=TOL)
    assert log_negativity(rho) == pytest.approx(1.0, abs=TOL)
    assert concurrence(rho) == pytest.approx(1.0, abs=TOL)
    assert chsh_max(rho) == pytest.approx(2 * SQ2, abs=TOL)
    assert purity(rho) == pytest.approx(1.0, abs=TOL)
    assert fidelity(rho, psi) == pytest.approx(1.0, abs=TOL)
    for other in ("phi+", "phi-", "psi+", "psi-"):
        if name not in (other, "psi+i"):  # two different Bell states: orthogonal
            assert fidelity(rho, BELL_VECTORS[other]) == pytest.approx(0.0, abs=TOL)


def test_singlet_correlation_matrix_is_minus_identity() -> None:
    T = correlation_matrix(dm(BELL_VECTORS["psi-"]))
    np.testing.assert_allclose(T, -np.eye(3), rtol=0, atol=TOL)


# -------------------------------------------------- maximally entangled qudits


@pytest.mark.parametrize("d", [2, 3, 4, 5, 6])
def test_maximally_entangled_qudits(d: int) -> None:
    rho = dm(schmidt_state(np.ones(d) / math.sqrt(d)))
    assert negativity(rho) == pytest.approx((d - 1) / 2, abs=TOL)
    assert negativity(rho, dims=(d, d)) == pytest.approx((d - 1) / 2, abs=TOL)
    assert log_negativity(rho) == pytest.approx(math.log2(d), abs=TOL)
    assert purity(rho) == pytest.approx(1.0, abs=TOL)


@pytest.mark.parametrize("d", [2, 3, 4])
def test_negativity_is_invariant_under_local_unitaries(d: int) -> None:
    rng = np.random.default_rng(d)
    U = la.expm(1j * (lambda h: h + h.conj().T)(rng.normal(size=(d, d))))
    V = la.expm(1j * (lambda h: h + h.conj().T)(rng.normal(size=(d, d))))
    lam = rng.random(d)
    lam /= np.linalg.norm(lam)
    psi = np.kron(U, V) @ schmidt_state(lam)
    expected = (lam.sum() ** 2 - 1) / 2
    assert negativity(dm(psi)) == pytest.approx(expected, abs=TOL)
    assert log_negativity(dm(psi)) == pytest.approx(math.log2(lam.sum() ** 2), abs=TOL)


@pytest.mark.parametrize("d", [2, 3, 4, 5])
def test_negativity_of_pure_states_from_schmidt_coefficients(d: int) -> None:
    rng = np.random.default_rng(10 + d)
    for _ in range(5):
        lam = rng.random(d)
        lam /= np.linalg.norm(lam)
        rho = dm(schmidt_state(lam))
        assert negativity(rho) == pytest.approx((lam.sum() ** 2 - 1) / 2, abs=TOL)


@pytest.mark.parametrize("theta", np.linspace(0.0, math.pi / 2, 7))
def test_two_qubit_pure_states(theta: float) -> None:
    """cos(theta)|0,1> + sin(theta)|1,0>, the Eq. 7 family."""
    rho = dm([0, math.cos(theta), math.sin(theta), 0])
    s2 = math.sin(2 * theta)
    assert negativity(rho) == pytest.approx(abs(s2) / 2, abs=TOL)
    assert log_negativity(rho) == pytest.approx(math.log2(1 + abs(s2)), abs=TOL)
    assert chsh_max(rho) == pytest.approx(2 * math.sqrt(1 + s2**2), abs=TOL)


def test_product_states_are_not_entangled() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=3) + 1j * rng.normal(size=3)
    b = rng.normal(size=2) + 1j * rng.normal(size=2)
    rho = dm(np.kron(a, b))
    assert negativity(rho, dims=(3, 2)) == pytest.approx(0.0, abs=TOL)
    assert log_negativity(rho, dims=(3, 2)) == pytest.approx(0.0, abs=TOL)
    ket00 = dm([1, 0, 0, 0])
    assert concurrence(ket00) == pytest.approx(0.0, abs=TOL)
    assert chsh_max(ket00) == pytest.approx(2.0, abs=TOL)
    assert chsh_max(np.eye(4) / 4) == pytest.approx(0.0, abs=TOL)


# ------------------------------------------------------------ Werner states


@pytest.mark.parametrize("p", [0.0, 0.1, 0.3, 1 / 3, 0.4, 0.6, 0.7, 0.75, 0.9, 1.0])
def test_werner_state_closed_forms(p: float) -> None:
    rho = werner(p)
    N = max(0.0, (3 * p - 1) / 4)
    assert negativity(rho) == pytest.approx(N, abs=TOL)
    assert log_negativity(rho) == pytest.approx(math.log2(1 + 2 * N), abs=TOL)
    assert concurrence(rho) == pytest.approx(max(0.0, (3 * p - 1) / 2), abs=TOL)
    assert chsh_max(rho) == pytest.approx(2 * SQ2 * p, abs=TOL)
    assert purity(rho) == pytest.approx((1 + 3 * p**2) / 4, abs=TOL)
    assert fidelity(rho, BELL_VECTORS["psi-"]) == pytest.approx(
        (1 + 3 * p) / 4, abs=TOL
    )


@pytest.mark.parametrize("delta", [1e-3, 1e-6, 1e-9])
def test_werner_entanglement_threshold_is_one_third(delta: float) -> None:
    assert negativity(werner(1 / 3 + delta)) > 0
    assert concurrence(werner(1 / 3 + delta)) > 0
    assert negativity(werner(1 / 3 - delta)) == 0.0
    assert concurrence(werner(1 / 3 - delta)) == 0.0
    assert negativity(werner(1 / 3 + delta)) == pytest.approx(3 * delta / 4, abs=TOL)


@pytest.mark.parametrize("delta", [1e-3, 1e-6, 1e-9])
def test_werner_chsh_threshold_is_one_over_sqrt_two(delta: float) -> None:
    assert chsh_max(werner(1 / SQ2 + delta)) > 2
    assert chsh_max(werner(1 / SQ2 - delta)) < 2
    # entangled but local between the two thresholds
    assert negativity(werner(0.5)) > 0
    assert chsh_max(werner(0.5)) < 2


# ----------------------------------------------------- fidelity and purity


def test_uhlmann_fidelity_of_commuting_states() -> None:
    rng = np.random.default_rng(1)
    p, q = rng.random(6), rng.random(6)
    p, q = p / p.sum(), q / q.sum()
    expected = np.sum(np.sqrt(p * q)) ** 2
    assert fidelity(np.diag(p), np.diag(q)) == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("seed", range(4))
def test_uhlmann_fidelity_of_full_rank_states(seed: int) -> None:
    rho, sigma = random_state(9, seed), random_state(9, 100 + seed)
    assert fidelity(rho, rho) == pytest.approx(1.0, abs=1e-12)
    assert fidelity(rho, sigma) == pytest.approx(fidelity(sigma, rho), abs=TOL)
    rng = np.random.default_rng(seed)
    U = la.expm(1j * (lambda h: h + h.conj().T)(rng.normal(size=(9, 9))))
    rotated = fidelity(U @ rho @ U.conj().T, U @ sigma @ U.conj().T)
    assert rotated == pytest.approx(fidelity(rho, sigma), abs=1e-11)
    assert 0.0 <= fidelity(rho, sigma) <= 1.0


@pytest.mark.parametrize("seed", range(4))
def test_fidelity_pure_target_agrees_with_uhlmann(seed: int) -> None:
    """<psi|rho|psi> and the Uhlmann formula with sigma = |psi><psi| agree.

    Only to ~1e-8: see test_fidelity_pure_target_agrees_with_uhlmann_to_1e12."""
    rho = random_state(4, seed)
    rng = np.random.default_rng(50 + seed)
    psi = rng.normal(size=4) + 1j * rng.normal(size=4)
    psi /= np.linalg.norm(psi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sqrtm of a singular matrix
        assert fidelity(rho, psi) == pytest.approx(fidelity(rho, dm(psi)), abs=1e-7)
        assert fidelity(rho, psi) == pytest.approx(fidelity(dm(psi), rho), abs=1e-7)
    assert fidelity(rho, psi) == pytest.approx(np.real(psi.conj() @ rho @ psi), abs=TOL)


def test_concurrence_of_non_maximal_pure_states_to_1e12() -> None:
    for theta in np.linspace(0.05, 1.5, 11):
        rho = dm([0, math.cos(theta), math.sin(theta), 0])
        assert concurrence(rho) == pytest.approx(abs(math.sin(2 * theta)), abs=TOL)


@pytest.mark.parametrize("D", [2, 4, 9, 16])
def test_purity_bounds_are_attained(D: int) -> None:
    assert purity(np.eye(D) / D) == pytest.approx(1 / D, abs=TOL)
    rng = np.random.default_rng(D)
    assert purity(dm(rng.normal(size=D) + 1j * rng.normal(size=D))) == pytest.approx(
        1.0, abs=TOL
    )
    rho = random_state(D, D)
    assert purity(rho) == pytest.approx(np.sum(la.eigvalsh(rho) ** 2), abs=TOL)


# --------------------------------------------------------- partial transpose


def test_partial_transpose_of_a_bell_state_is_half_the_swap() -> None:
    swap = np.eye(4)[[0, 2, 1, 3]]
    np.testing.assert_allclose(
        partial_transpose(dm(BELL_VECTORS["phi+"])), swap / 2, rtol=0, atol=TOL
    )


@pytest.mark.parametrize("dims", [(2, 2), (2, 3), (3, 2), (3, 4)])
def test_partial_transpose_is_an_involution(dims: tuple[int, int]) -> None:
    rho = random_state(dims[0] * dims[1], sum(dims))
    pt = partial_transpose(rho, dims)
    np.testing.assert_allclose(partial_transpose(pt, dims), rho, rtol=0, atol=0)
    assert np.trace(pt) == pytest.approx(1.0, abs=TOL)
    # the element <a b|rho^{T_B}|a' b'> = <a b'|rho|a' b>
    d_A, d_B = dims
    r = rho.reshape(d_A, d_B, d_A, d_B)
    p = pt.reshape(d_A, d_B, d_A, d_B)
    assert p[1, 0, 0, 1] == r[1, 1, 0, 0]


def test_log_negativity_is_log2_of_the_trace_norm() -> None:
    for seed in range(3):
        rho = random_state(9, seed, rank=2)
        trace_norm = np.abs(la.eigvalsh(partial_transpose(rho))).sum()
        assert log_negativity(rho) == pytest.approx(math.log2(trace_norm), abs=TOL)
        assert negativity(rho) == pytest.approx((trace_norm - 1) / 2, abs=TOL)
