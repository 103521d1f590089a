"""The qudit closed forms (Eq. 12, C2-C12) against the exact steady state.

Notation of Sec. III: filtered dimension d, local dimension d+1, g_k = g/sqrt(2).
Each typo of App. C and Eq. 12 is stated, shown to fail against the exact numerics as
printed, and its correction pinned at relative precision 1e-9. The intermediate steps
C4-C9 are compared with the partial traces, the reset terms and the commutator of C1
evaluated on the package's exact steady state (``ResetModel``, ``machines.qudit``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import pytest

from trajectories.exact.states import Herald, herald, steady_state
from trajectories.paper import qudit as paper
from trajectories.paper import qutrit as paper_qutrit
from trajectories.system.filters import Filter
from trajectories.system.machines import qudit
from trajectories.system.models import ResetModel

RTOL = 1e-9
DIMS = range(2, 9)


def _params(d: int, n: int = 3) -> list[tuple[float, float, float]]:
    """n random (g, p_A, p_B) per d: p_B in [0.005, 0.02], mu in [0.02, 1.5],
    g/p_B in [0.1, 3]."""
    rng = np.random.default_rng(100 + d)
    out = []
    for _ in range(n):
        p_B = rng.uniform(0.005, 0.02)
        out.append((rng.uniform(0.1, 3) * p_B, rng.uniform(0.02, 1.5) * p_B, p_B))
    return out


@functools.cache
def _exact(
    d: int,
    g: float,
    p_A: float,
    p_B: float,
    couplings: tuple[float, ...] | None = None,
) -> tuple[np.ndarray, Herald]:
    """Exact steady state and herald (cached: several tests share parameters)."""
    m = qudit(d, g=g, couplings=couplings)
    rho = steady_state(ResetModel(m, p_A=p_A, p_B=p_B, T_A=math.inf, T_B=0.0))
    return rho, herald(rho, m.filter)


def _taylor(f: Callable[[float], float], h: float, order: int) -> np.ndarray:
    """Taylor coefficients c_0..c_order of f at 0 from f(h), ..., f((order+1) h)."""
    x = h * np.arange(1, order + 2)
    V = np.vander(x, order + 1, increasing=True)
    return np.linalg.solve(V, np.array([f(xi) for xi in x]))


def _rel_err(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(np.asarray(actual) - expected).max() / np.abs(expected).max())


def _eq12_as_printed(d: int, g: float, p_A: float, p_B: float) -> float:
    """Eq. 12 transcribed literally."""
    xi = 2 * (d - 1) * p_A * p_B + (d - 1) * p_B**2 + p_A**2
    return (
        (d - 1)
        * g**2
        * p_A
        * ((d - 1) * p_A + d * p_B)
        / (d**2 * (g**2 * xi + p_A * p_B * (p_A + p_B) ** 2))
    )


# ----------------------------------------------------------------------- Eq. 12


@pytest.mark.parametrize("d", DIMS)
def test_eq12_corrected_is_the_exact_success_probability(d: int) -> None:
    for g, p_A, p_B in _params(d):
        _, h = _exact(d, g, p_A, p_B)
        assert paper.success_probability(d, g, p_A, p_B) == pytest.approx(
            h.p_suc, rel=RTOL
        )


@pytest.mark.parametrize("d", DIMS)
def test_eq12_as_printed_uses_the_local_dimension(d: int) -> None:
    """Typo: Eq. 12's d is the local dimension, d+1 in the notation of Eqs. 9-11.
    Printed with the d of Sec. III it fails; with d+1 it is the exact p_suc."""
    errors = []
    for g, p_A, p_B in _params(d):
        _, h = _exact(d, g, p_A, p_B)
        errors.append(abs(_eq12_as_printed(d, g, p_A, p_B) / h.p_suc - 1))
        assert _eq12_as_printed(d + 1, g, p_A, p_B) == pytest.approx(h.p_suc, rel=RTOL)
    assert min(errors) > 1e-6  # far outside the 1e-9 agreement of the correction
    assert max(errors) > 1e-2


def test_eq12_for_the_qutrit_is_b7_at_theta_pi_over_4() -> None:
    """ "Agrees with (8) for d = 3": printed d = 3 is the qutrit machine (Sec. III
    d = 2, g_1 = g_2 = g/sqrt(2)), where Eq. 12 equals B7 at theta = pi/4 and hence
    has both limits of Eq. 8."""
    for g, p_A, p_B in _params(2, 5):
        assert paper.success_probability(2, g, p_A, p_B) == pytest.approx(
            paper_qutrit.success_probability(g, math.pi / 4, p_A, p_B), rel=1e-12
        )
    g, p_A, p_B = 0.01, 0.002, 0.01
    assert paper.success_probability(2, g, 1e-9 * p_B, p_B) / 1e-9 == pytest.approx(
        1 / 3, rel=1e-8
    )
    assert paper.success_probability(2, 1e-8, p_A, p_B) == pytest.approx(
        paper_qutrit.success_probability_small_g(1e-8, p_A, p_B), rel=1e-9
    )


def test_eq12_broadcasts() -> None:
    g, p_A, p_B = (np.array(x) for x in zip(*_params(5), strict=True))
    want = [paper.success_probability(5, *p) for p in _params(5)]
    np.testing.assert_allclose(
        paper.success_probability(5, g, p_A, p_B), want, rtol=1e-15
    )


# ------------------------------------------------------------------- Eqs. C2-C3


@pytest.mark.parametrize("d", DIMS)
def test_c2_c3_corrected_is_the_exact_steady_state(d: int) -> None:
    for g, p_A, p_B in _params(d):
        rho, _ = _exact(d, g, p_A, p_B)
        np.testing.assert_allclose(
            paper.steady_state(d, g, p_A, p_B), rho, rtol=RTOL, atol=1e-15
        )


@pytest.mark.parametrize("d", DIMS)
def test_c2_c3_as_printed_have_couplings_g_not_g_over_sqrt2(d: int) -> None:
    """Typo (convention): C2-C3 as printed (with g) are the steady state for
    g_k = g, not for the g_k = g/sqrt(2) of Sec. III; printed C2-C3 at g is
    ``paper.steady_state(d, sqrt(2) g, ...)``. They also hold for d = 2, where the
    paper states d >= 3."""
    g, p_A, p_B = _params(d, 1)[0]
    printed = paper.steady_state(d, math.sqrt(2) * g, p_A, p_B)
    rho_sec3, _ = _exact(d, g, p_A, p_B)
    rho_gk_g, _ = _exact(d, g, p_A, p_B, couplings=(g,) * d)
    assert _rel_err(printed, rho_sec3) > 1e-3
    np.testing.assert_allclose(printed, rho_gk_g, rtol=RTOL, atol=1e-15)
    # printed N = (d+1)^2 (p_A p_B (p_A + p_B)^2 + 2 g^2 (p_A^2 + 2d p_A p_B + d p_B^2))
    # is the trace of the bracket of C2: c_1 at (0, 0) times N equals printed c_1
    N = (d + 1) ** 2 * (
        p_A * p_B * (p_A + p_B) ** 2
        + 2 * g**2 * (p_A**2 + 2 * d * p_A * p_B + d * p_B**2)
    )
    c1 = (d + 1) * p_A * p_B * (p_A + p_B) ** 2 + 2 * g**2 * (
        (d + 1) ** 2 * p_B**2 + 2 * d * (d + 1) * p_A * p_B
    )
    assert printed[0, 0].real * N == pytest.approx(c1 + 2 * g**2 * p_A**2, rel=1e-12)


def test_c2_c3_trace_and_hermiticity() -> None:
    for d in DIMS:
        rho = paper.steady_state(d, *_params(d, 1)[0])
        assert np.trace(rho).real == pytest.approx(1.0, abs=1e-14)
        np.testing.assert_allclose(rho, rho.conj().T, atol=0)
        assert np.linalg.eigvalsh(rho).min() > -1e-15


# ------------------------------------------------------------------- Eqs. C4-C5


def _partial_traces(rho: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """(Tr_A rho, Tr_B rho) of a ((d+1)^2, (d+1)^2) matrix."""
    R = rho.reshape(d + 1, d + 1, d + 1, d + 1)
    return np.einsum("abac->bc", R), np.einsum("abcb->ac", R)


def _c4_c5_as_printed(
    d: int, g: float, p_A: float, p_B: float
) -> tuple[np.ndarray, np.ndarray]:
    """Eqs. C4-C5 transcribed literally (App. C coupling g, C3 coefficients)."""
    D, s = d + 1, p_A + p_B
    c1 = D * p_A * p_B * s**2 + 2 * g**2 * (D**2 * p_B**2 + 2 * d * D * p_A * p_B)
    c2 = p_A * (D * p_B * s**2 + 2 * D * g**2 * d * p_B)
    N = D**2 * (p_A * p_B * s**2 + 2 * g**2 * (p_A**2 + 2 * d * p_A * p_B + d * p_B**2))
    tr_A = np.zeros((D, D))
    tr_B = np.zeros((D, D))
    for l in range(D):  # noqa: E741 (the paper's index)
        tr_A[l, l] += 2 * D * g**2 * p_A**2
    tr_A[0, 0] += d * c1 + c2
    for k in range(d):
        tr_A[d - k, d - k] += 2 * D * g**2 * p_A * p_B
    for k in range(D):
        tr_B[k, k] += 2 * D * g**2 * p_A**2
    for k in range(d):
        tr_B[k, k] += c1 + 2 * D * g**2 * p_A * p_B
    tr_B[d, d] += c2
    return tr_A / N, tr_B / N


@pytest.mark.parametrize("d", DIMS)
def test_c4_c5_are_the_partial_traces_of_the_exact_steady_state(d: int) -> None:
    for g, p_A, p_B in _params(d):
        rho, _ = _exact(d, g, p_A, p_B)
        for ours, exact in zip(
            paper.reduced_states(d, g, p_A, p_B), _partial_traces(rho, d), strict=True
        ):
            np.testing.assert_allclose(ours, exact, rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize("d", DIMS)
def test_c4_c5_as_printed_hold_in_the_coupling_of_c2(d: int) -> None:
    """C4-C5 hold as printed, in App. C's coupling g_k = g (that of printed C2-C3);
    with the g_k = g/sqrt(2) of Sec. III they fail, as C2-C3 do."""
    g, p_A, p_B = _params(d, 1)[0]
    printed = _c4_c5_as_printed(d, g, p_A, p_B)
    rho_gk_g, _ = _exact(d, g, p_A, p_B, couplings=(g,) * d)
    rho_sec3, _ = _exact(d, g, p_A, p_B)
    for ours, exact, sec3 in zip(
        printed, _partial_traces(rho_gk_g, d), _partial_traces(rho_sec3, d), strict=True
    ):
        np.testing.assert_allclose(ours, exact, rtol=RTOL, atol=1e-15)
        assert np.abs(np.diag(ours) / np.diag(sec3).real - 1).max() > 1e-3


# ------------------------------------------------------------------- Eqs. C6-C9


def _reset_terms(d: int, p_A: float, p_B: float, rho: np.ndarray) -> np.ndarray:
    """The reset terms of C1 on rho: the package's reset Liouvillian without H_int."""
    L = ResetModel(qudit(d, g=0.0), p_A=p_A, p_B=p_B, T_A=math.inf, T_B=0.0)
    n = (d + 1) ** 2
    out = L.liouvillian() @ rho.reshape(-1, order="F")
    return np.asarray(out).reshape(n, n, order="F")


def _blocks(d: int) -> tuple[int, list[int]]:
    """Flat index of |d, 0> and of the chain |k, d-k>, k = 0..d-1."""
    return d * (d + 1), [k * (d + 1) + d - k for k in range(d)]


def _c6_as_printed(
    d: int, g: float, p_A: float, p_B: float, b_shift: int = 0, ranges: str = "printed"
) -> np.ndarray:
    """Eq. C6 transcribed literally (App. C coupling g). ``b_shift = 1`` raises the B
    index of the kets of the last sum by one; ``ranges = "C2"`` runs that sum over
    C2's ranges k = 1..d-1, l = 1..d-k instead of the printed k = 1..d-2,
    l = 1..d-1-k."""
    D, s = d + 1, p_A + p_B
    N = D**2 * (p_A * p_B * s**2 + 2 * g**2 * (p_A**2 + 2 * d * p_A * p_B + d * p_B**2))
    c3 = 1j * D * g * p_A * p_B * s
    w = 2 * D * g**2 * p_A * p_B

    def idx(a: int, b: int) -> int:
        return a * D + b

    M = np.zeros((D * D, D * D), dtype=complex)
    M[idx(d, 0), idx(d, 0)] += -2 * d * D * g**2 * p_A * p_B * s
    for k in range(d):
        M[idx(k, d - k), idx(k, d - k)] += w * s
        M[idx(d, 0), idx(k, d - k)] += c3 * s
        M[idx(k, d - k), idx(d, 0)] += np.conj(c3) * s
    last = d - 1 if ranges == "printed" else d
    for k in range(1, last):
        for m in range(1, last - k + 1):  # the printed l
            i = idx(k + m - 1, d - k - m + b_shift)
            j = idx(k - 1, d - k + b_shift)
            M[i, j] += w * s
            M[j, i] += w * s
    return -M / N


@pytest.mark.parametrize("d", DIMS)
def test_c6_corrected_is_the_reset_dissipator_of_the_exact_state(d: int) -> None:
    for g, p_A, p_B in _params(d):
        rho, _ = _exact(d, g, p_A, p_B)
        exact = _reset_terms(d, p_A, p_B, rho)
        np.testing.assert_allclose(
            paper.dissipator_term(d, g, p_A, p_B),
            exact,
            rtol=RTOL,
            atol=1e-12 * np.abs(exact).max(),
        )


def test_reset_terms_are_those_of_c1() -> None:
    """The ResetModel's Liouvillian is the reset part of C1 written out by hand."""
    d, (g, p_A, p_B) = 4, _params(4, 1)[0]
    rho, _ = _exact(d, g, p_A, p_B)
    tr_A, tr_B = _partial_traces(rho, d)
    ground = np.diag([1.0] + [0.0] * d)
    by_hand = p_A * (np.kron(np.eye(d + 1) / (d + 1), tr_A) - rho) + p_B * (
        np.kron(tr_B, ground) - rho
    )
    np.testing.assert_allclose(
        _reset_terms(d, p_A, p_B, rho), by_hand, rtol=1e-12, atol=1e-18
    )


@pytest.mark.parametrize("d", DIMS)
def test_c6_as_printed_has_wrong_chain_coherences(d: int) -> None:
    """Typo: printed C6 is right on the populations and on |d,0>, but its last sum,
    the coherences between the chain states |k, d-k> of C2, has kets
    |k+l-1, d-k-l><k-1, d-k> with B one too low (not chain states), and ranges
    k <= d-2, l <= d-1-k that omit every coherence with |d-1, 1> (for d = 2 the sum
    is empty). With B raised by one and C2's ranges it is the exact reset term."""
    g, p_A, p_B = _params(d, 1)[0]
    rho, _ = _exact(d, g, p_A, p_B, couplings=(g,) * d)  # App. C coupling
    exact = _reset_terms(d, p_A, p_B, rho)
    atol = 1e-12 * np.abs(exact).max()
    assert _rel_err(_c6_as_printed(d, g, p_A, p_B), exact) > 0.1
    # B raised by one: only the coherences with |d-1, 1> are missing
    shifted = _c6_as_printed(d, g, p_A, p_B, b_shift=1)
    _, chain = _blocks(d)
    wrong = np.abs(shifted - exact) > atol
    expected = np.zeros_like(wrong)
    expected[chain[-1], chain[:-1]] = expected[chain[:-1], chain[-1]] = True
    np.testing.assert_array_equal(wrong, expected)
    np.testing.assert_allclose(
        _c6_as_printed(d, g, p_A, p_B, b_shift=1, ranges="C2"),
        exact,
        rtol=RTOL,
        atol=atol,
    )


def _c7_as_printed(d: int, g: float, p_A: float, p_B: float) -> np.ndarray:
    """Eq. C7 transcribed literally (App. C coupling g, no prefactor)."""
    D, s = d + 1, p_A + p_B
    c2 = p_A * (D * p_B * s**2 + 2 * D * g**2 * d * p_B)
    c3 = 1j * D * g * p_A * p_B * s
    top, chain = _blocks(d)
    M = np.zeros((D * D, D * D), dtype=complex)
    for k in chain:
        M[top, k] += c2 * g - 2 * d * D * g**3 * p_A * p_B
        M[k, top] += -c2 * g + 2 * d * D * g**3 * p_A * p_B
        for m in chain:
            M[k, m] += -2j * g * c3.imag
    M[top, top] += 2j * d * g * c3.imag
    return M


@pytest.mark.parametrize("d", DIMS)
def test_c7_corrected_is_the_commutator_of_the_exact_state(d: int) -> None:
    for g, p_A, p_B in _params(d):
        rho, _ = _exact(d, g, p_A, p_B)
        H = qudit(d, g=g).interaction_hamiltonian()
        exact = rho @ H - H @ rho
        np.testing.assert_allclose(
            paper.commutator_term(d, g, p_A, p_B),
            exact,
            rtol=RTOL,
            atol=1e-12 * np.abs(exact).max(),
        )


@pytest.mark.parametrize("d", DIMS)
def test_c7_as_printed_lacks_the_factor_one_over_n(d: int) -> None:
    """Typo: printed C7 is N [rho, H_int] (N of C3), not [rho, H_int]: the 1/N of
    C2 (which C6 keeps) is missing. N is tiny (degree 4 in the rates)."""
    g, p_A, p_B = _params(d, 1)[0]
    rho, _ = _exact(d, g, p_A, p_B, couplings=(g,) * d)
    H = qudit(d, couplings=(g,) * d).interaction_hamiltonian()
    exact = rho @ H - H @ rho
    printed = _c7_as_printed(d, g, p_A, p_B)
    N = paper.coefficients(d, math.sqrt(2) * g, p_A, p_B)["N"]
    assert _rel_err(printed, exact) > 0.99
    np.testing.assert_allclose(
        printed / N, exact, rtol=RTOL, atol=1e-12 * np.abs(exact).max()
    )


@pytest.mark.parametrize("d", DIMS)
def test_c8_c9_hold_identically(d: int) -> None:
    rng = np.random.default_rng(7 + d)
    for g, p_A, p_B in rng.uniform(1e-3, 1.0, size=(20, 3)):
        for left, right in paper.verification_equations(d, g, p_A, p_B).values():
            assert left == pytest.approx(right, rel=1e-12)


@pytest.mark.parametrize("d", DIMS)
def test_c8_c9_are_the_entries_of_c1_on_the_exact_state(d: int) -> None:
    """N i[rho, H] and -N (reset terms) on the exact state: at (|d,0>, |k,d-k>) the
    two sides of C8, at (|d,0>, |d,0>) those of C9, on the chain block C9 / d; every
    other entry of both vanishes, so C1 reduces to C8 and C9."""
    top, chain = _blocks(d)
    for g, p_A, p_B in _params(d):
        rho, _ = _exact(d, g, p_A, p_B)
        H = qudit(d, g=g).interaction_hamiltonian()
        N = paper.coefficients(d, g, p_A, p_B)["N"]
        unitary = 1j * N * (rho @ H - H @ rho)
        reset = -N * _reset_terms(d, p_A, p_B, rho)
        eqs = paper.verification_equations(d, g, p_A, p_B)
        for k in chain:
            assert unitary[top, k] == pytest.approx(eqs["C8"][0], rel=RTOL)
            assert reset[top, k] == pytest.approx(eqs["C8"][1], rel=RTOL)
            for m in chain:
                assert unitary[k, m] == pytest.approx(-eqs["C9"][0] / d, rel=RTOL)
                assert reset[k, m] == pytest.approx(-eqs["C9"][1] / d, rel=RTOL)
        assert unitary[top, top] == pytest.approx(eqs["C9"][0], rel=RTOL)
        assert reset[top, top] == pytest.approx(eqs["C9"][1], rel=RTOL)
        inside = np.zeros(rho.shape, dtype=bool)
        block = [top, *chain]
        inside[np.ix_(block, block)] = True
        for M in (unitary, reset):
            assert np.abs(M[~inside]).max() <= 1e-12 * np.abs(M).max()


# ----------------------------------------------------------------------- Eq. C10


@pytest.mark.parametrize("d", DIMS)
def test_c10_is_the_filter_of_the_machine(d: int) -> None:
    """Pi_A = sum_{k<d} |k><k| = 1 - |d><d|, Pi_B = sum_{l>=1} |l><l| = 1 - |0><0|
    (Sec. III), the filter of ``machines.qudit``; the herald with it is the same."""
    pi_A, pi_B = paper.filters(d)
    e = np.eye(d + 1)
    np.testing.assert_array_equal(pi_A, e - np.outer(e[d], e[d]))
    np.testing.assert_array_equal(pi_B, e - np.outer(e[0], e[0]))
    m = qudit(d)
    np.testing.assert_array_equal(m.filter.pi_A, pi_A)
    np.testing.assert_array_equal(m.filter.pi_B, pi_B)
    g, p_A, p_B = _params(d, 1)[0]
    rho, h = _exact(d, g, p_A, p_B)
    h2 = herald(rho, Filter(pi_A, pi_B))
    assert h2.p_suc == pytest.approx(h.p_suc, rel=1e-15)
    np.testing.assert_array_equal(h2.rho_post, h.rho_post)


# ----------------------------------------------------------------------- Eq. C11


def _c11_as_printed(d: int, g: float, p_A: float, p_B: float, kets: str) -> np.ndarray:
    """Eq. C11 transcribed literally (App. C coupling g), in the relabelled basis.

    Populations use original labels |k, l>, l = 1..d (relabelled |k, l-1>). The
    coherence kets |k+l-1, d-k-l> are read in original labels (``kets="original"``)
    or as already relabelled (``kets="relabelled"``)."""
    shift = 1 if kets == "original" else 0

    def idx(a: int, b: int) -> int:
        return a * d + (b - shift)

    rho = 2 * g**2 * p_A**2 * np.eye(d * d, dtype=complex)
    for k in range(d):
        rho[k * d + (d - k - 1), k * d + (d - k - 1)] += 2 * (d + 1) * g**2 * p_A * p_B
    for k in range(1, d - 1):
        for m in range(1, d - k):  # the printed l
            i, j = idx(k + m - 1, d - k - m), idx(k - 1, d - k)
            rho[i, j] += 2 * d * g * 1j * p_A * p_B
            rho[j, i] += 2 * d * g * 1j * p_A * p_B
    return rho / (2 * g**2 * p_A**2 * d**2 + 2 * d * (d + 1) * g**2 * p_A * p_B)


@pytest.mark.parametrize("d", DIMS)
def test_c11_corrected_is_the_exact_filtered_state(d: int) -> None:
    """rho' = (p_A 1 + d (d+1) p_B |S_d><S_d|) / (d (d p_A + (d+1) p_B)), for any g."""
    for g, p_A, p_B in _params(d):
        _, h = _exact(d, g, p_A, p_B)
        np.testing.assert_allclose(
            paper.filtered_state(d, p_A, p_B), h.rho_post, rtol=RTOL, atol=1e-15
        )


@pytest.mark.parametrize("d", DIMS)
def test_c11_as_printed_fails(d: int) -> None:
    """Typo: printed C11 has coherences 2 d g i p_A p_B (not Hermitian; should be
    2 (d+1) g^2 p_A p_B), sums k = 1..d-2, l = 1..d-k-1 that omit the coherences with
    original |d-1, 1>, and mixed original/relabelled kets. Its normalisation and
    populations are right: with C2's coherences it is ``paper.filtered_state``."""
    g, p_A, p_B = _params(d, 1)[0]
    _, h = _exact(d, g, p_A, p_B, couplings=(g,) * d)  # App. C coupling
    for kets in ("original", "relabelled"):
        printed = _c11_as_printed(d, g, p_A, p_B, kets)
        if d >= 3:  # for d = 2 the printed coherence sums are empty
            assert np.abs(printed - printed.conj().T).max() > 1e-3
        assert _rel_err(printed, h.rho_post) > 1e-2
        fixed = np.diag(np.diag(printed))  # keep the printed populations
        chain = [k * d + (d - k - 1) for k in range(d)]
        w = 2 * (d + 1) * g**2 * p_A * p_B
        norm = 2 * g**2 * p_A**2 * d**2 + 2 * d * (d + 1) * g**2 * p_A * p_B
        for i in chain:
            for j in chain:
                if i != j:
                    fixed[i, j] = w / norm
        np.testing.assert_allclose(fixed, h.rho_post, rtol=RTOL, atol=1e-15)


def test_c11_is_independent_of_g() -> None:
    d, p_A, p_B = 4, 0.002, 0.01
    for g in (1e-4, 0.01, 0.1):
        _, h = _exact(d, g, p_A, p_B)
        np.testing.assert_allclose(
            paper.filtered_state(d, p_A, p_B), h.rho_post, rtol=RTOL, atol=1e-15
        )


# ----------------------------------------------------------------------- Eq. C12


def _deficit(d: int, g: float, p_A: float, p_B: float) -> float:
    psi = paper.maximally_entangled_state(d)
    _, h = _exact(d, g, p_A, p_B)
    return 1.0 - float(np.vdot(psi, h.rho_post @ psi).real)


@pytest.mark.parametrize("d", DIMS)
def test_c12_deficit_is_linear_in_mu(d: int) -> None:
    """1 - <S_d|rho'|S_d> = (d-1)/d mu + O(mu^2): the coefficient extracted from the
    exact numerics; the exact deficit is (d^2-1) p_A / (d (d p_A + (d+1) p_B))."""
    g, p_B = 0.01, 0.01
    coeff = _taylor(lambda mu: _deficit(d, g, mu * p_B, p_B) / mu, 1e-4, 2)[0]
    assert coeff == pytest.approx(paper.deficit_coefficient(d), rel=RTOL)
    assert paper.deficit_coefficient(d) == (d - 1) / d
    for g, p_A, p_B in _params(d, 2):
        assert paper.fidelity_deficit(d, p_A, p_B) == pytest.approx(
            _deficit(d, g, p_A, p_B), rel=RTOL
        )


def test_c12_limit_state_is_eq11() -> None:
    """mu -> 0: rho' -> |S_d><S_d| (Eq. 11), the machine's target state."""
    for d in DIMS:
        psi = paper.maximally_entangled_state(d)
        np.testing.assert_allclose(psi, qudit(d).target, atol=1e-16)
        np.testing.assert_allclose(
            paper.filtered_state(d, 0.0, 1.0), np.outer(psi, psi.conj()), atol=1e-15
        )


def test_qutrit_machine_is_the_d2_qudit_machine() -> None:
    """For d = 2 (theta = pi/4) the qudit forms are the qutrit forms."""
    g, p_A, p_B = 0.01, 0.002, 0.01
    np.testing.assert_allclose(
        paper.filtered_state(2, p_A, p_B),
        paper_qutrit.filtered_state(g, math.pi / 4, p_A, p_B),
        rtol=1e-12,
        atol=1e-16,
    )
    assert paper.deficit_coefficient(2) == 0.5  # Eq. 6 at theta = pi/4: 1 - mu/2
