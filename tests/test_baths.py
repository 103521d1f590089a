"""Thermal states, Bose-Einstein occupations and the detailed-balance rates of
Eq. F1 / F5, against closed forms to 1e-12."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import warnings
from pathlib import Path

import mpmath
import numpy as np
import pytest

from trajectories.exact.states import herald, steady_state
from trajectories.system.baths import (
    bose_einstein,
    thermal_populations,
    thermal_state,
    transition_rates,
)
from trajectories.system.checks import INVERTED, is_inverted, parse_temperature
from trajectories.system.machines import qudit, qutrit
from trajectories.system.models import LindbladModel

TOL = 1e-12
QUTRIT_LEVELS = (0.0, 1.0, 2.5)  # Eq. 1 with eps = 1.5


# ------------------------------------------------------------ temperatures


@pytest.mark.parametrize("text", ["-0", "-0.0", "0-", "inversion", " INVERTED "])
def test_inversion_spellings(text: str) -> None:
    T = parse_temperature(text)
    assert is_inverted(T)
    assert T == 0.0


def test_inverted_constant_and_plain_zero_are_told_apart() -> None:
    assert is_inverted(INVERTED)
    assert is_inverted(-0.0)
    assert not is_inverted(0.0)
    assert not is_inverted(parse_temperature("0"))
    assert not is_inverted(parse_temperature(0))
    assert not is_inverted(1.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("inf", math.inf), ("Infinity", math.inf), (" 0.25 ", 0.25), (3, 3.0)],
)
def test_parse_temperature_reads_numbers_and_inf(
    value: object, expected: float
) -> None:
    assert parse_temperature(value) == expected


# ------------------------------------------------------ thermal populations


def test_zero_temperature_is_the_ground_state() -> None:
    np.testing.assert_array_equal(thermal_populations(QUTRIT_LEVELS, 0.0), [1, 0, 0])


def test_infinite_temperature_is_maximally_mixed() -> None:
    np.testing.assert_allclose(
        thermal_populations(QUTRIT_LEVELS, math.inf), [1 / 3] * 3, rtol=0, atol=TOL
    )


def test_inversion_puts_everything_in_the_top_level() -> None:
    np.testing.assert_array_equal(thermal_populations(QUTRIT_LEVELS, "-0"), [0, 0, 1])
    np.testing.assert_array_equal(thermal_populations((0.0, 1.0), INVERTED), [0, 1])


@pytest.mark.parametrize("T", [0.05, 0.3, 1.0, 4.0, 100.0])
def test_finite_temperature_is_the_gibbs_state(T: float) -> None:
    E = np.array(QUTRIT_LEVELS)
    w = np.exp(-E / T)
    np.testing.assert_allclose(thermal_populations(E, T), w / w.sum(), rtol=0, atol=TOL)


@pytest.mark.parametrize("T", [0.1, 1.0, 7.0])
def test_populations_depend_only_on_energy_differences(T: float) -> None:
    """A common shift of the levels (here a large one) leaves tau unchanged."""
    E = np.array([0.0, 0.7, 2.0, 3.1])
    np.testing.assert_allclose(
        thermal_populations(E + 1e3, T), thermal_populations(E, T), rtol=0, atol=TOL
    )


def test_extreme_ratios_do_not_overflow() -> None:
    p = thermal_populations((0.0, 1.0, 2.0), 1e-3)
    assert np.all(np.isfinite(p))
    assert p[0] == pytest.approx(1.0, abs=TOL)
    assert p[1] == pytest.approx(math.exp(-1e3), rel=1e-12, abs=0)


@pytest.mark.parametrize(
    ("T", "expected"),
    [
        (0.0, [0.5, 0.5, 0.0]),
        ("-0", [0.0, 0.0, 1.0]),
        (math.inf, [1 / 3, 1 / 3, 1 / 3]),
    ],
)
def test_degenerate_ground_and_top_levels_share_equally(
    T: object, expected: list[float]
) -> None:
    np.testing.assert_allclose(
        thermal_populations((0.0, 0.0, 1.0), T), expected, rtol=0, atol=TOL
    )
    top = thermal_populations((0.0, 1.0, 1.0), T)
    if T == "-0":
        np.testing.assert_allclose(top, [0.0, 0.5, 0.5], rtol=0, atol=TOL)


def test_degenerate_levels_at_finite_temperature() -> None:
    T = 0.8
    w = np.array([1.0, 1.0, math.exp(-1 / T)])
    np.testing.assert_allclose(
        thermal_populations((0.0, 0.0, 1.0), T), w / w.sum(), rtol=0, atol=TOL
    )


@pytest.mark.parametrize("T", [0.0, 0.4, math.inf, "-0"])
def test_thermal_state_is_diagonal_with_unit_trace(T: object) -> None:
    tau = thermal_state(QUTRIT_LEVELS, T)
    assert tau.shape == (3, 3)
    np.testing.assert_array_equal(tau, np.diag(np.diag(tau)))
    assert np.trace(tau) == pytest.approx(1.0, abs=TOL)
    np.testing.assert_array_equal(np.diag(tau), thermal_populations(QUTRIT_LEVELS, T))


def test_limits_of_finite_temperatures() -> None:
    np.testing.assert_allclose(
        thermal_populations(QUTRIT_LEVELS, 1e-2), [1, 0, 0], rtol=0, atol=TOL
    )
    np.testing.assert_allclose(
        thermal_populations(QUTRIT_LEVELS, 1e14), [1 / 3] * 3, rtol=0, atol=TOL
    )


# ------------------------------------------------------------ Bose-Einstein


@pytest.mark.parametrize("E", [0.1, 1.0, 1.5, 2.5, 10.0])
@pytest.mark.parametrize("T", [0.05, 0.2, 1.0, 3.0, 50.0])
def test_bose_einstein_values(E: float, T: float) -> None:
    expected = 1.0 / (math.exp(E / T) - 1.0)
    assert bose_einstein(E, T) == pytest.approx(expected, rel=TOL, abs=1e-300)


def test_bose_einstein_special_temperatures() -> None:
    assert bose_einstein(1.0, 0.0) == 0.0
    assert bose_einstein(1.0, math.inf) == math.inf
    assert bose_einstein(1.0, "-0") == -1.0
    assert bose_einstein(1.0, 1.0) == pytest.approx(1 / (math.e - 1), rel=TOL)
    assert bose_einstein(math.log(2.0), 1.0) == pytest.approx(1.0, rel=TOL)


def test_bose_einstein_classical_limit() -> None:
    """n_B -> T/E - 1/2 + E/(12 T) for T >> E."""
    E, T = 1.0, 1e4
    assert bose_einstein(E, T) == pytest.approx(T / E - 0.5 + E / (12 * T), rel=TOL)


def test_bose_einstein_low_temperature_is_boltzmann() -> None:
    assert bose_einstein(1.0, 1e-2) == pytest.approx(math.exp(-100.0), rel=TOL)


# --------------------------------------------- rates and detailed balance (F5)


@pytest.mark.parametrize("E", [0.5, 1.0, 2.5])
@pytest.mark.parametrize("T", [0.1, 0.7, 2.0, 30.0])
@pytest.mark.parametrize("Gamma", [1e-4, 5e-3, 1.0])
def test_detailed_balance_eq_f5(E: float, T: float, Gamma: float) -> None:
    up, down = transition_rates(Gamma, E, T)
    n = 1.0 / math.expm1(E / T)
    assert up == pytest.approx(Gamma * n, rel=TOL)
    assert down == pytest.approx(Gamma * (1 + n), rel=TOL)
    assert up / down == pytest.approx(math.exp(-E / T), rel=TOL)
    assert down - up == pytest.approx(Gamma, rel=TOL)


def test_rates_at_special_temperatures() -> None:
    assert transition_rates(2.0, 1.0, 0.0) == (0.0, 2.0)
    assert transition_rates(2.0, 1.0, "-0") == (2.0, 0.0)
    assert transition_rates(0.0, 1.0, 0.5) == (0.0, 0.0)


def test_rates_balance_the_thermal_populations() -> None:
    """Gamma^+_{ij} p_i = Gamma^-_{ij} p_j for every pair of levels of a qutrit."""
    T = 0.6
    p = thermal_populations(QUTRIT_LEVELS, T)
    for i in range(3):
        for j in range(i + 1, 3):
            up, down = transition_rates(1e-3, QUTRIT_LEVELS[j] - QUTRIT_LEVELS[i], T)
            assert up * p[i] == pytest.approx(down * p[j], rel=TOL)


def test_lindblad_jumps_carry_the_detailed_balance_rates() -> None:
    m = qutrit(g=1e-3, eps=1.5)
    model = LindbladModel(m, 0.9, 0.2, {(0, 1): 1e-3, (1, 2): 2e-3}, 5e-3)
    rates = {j.name: float(np.abs(j.vals[0]) ** 2) for j in model.jump_operators()}
    E_A, E_B = m.energies_A, m.energies_B
    for name, Gamma, E, T in (
        ("A:up 0->1", 1e-3, E_A[1] - E_A[0], 0.9),
        ("A:up 1->2", 2e-3, E_A[2] - E_A[1], 0.9),
        ("B:up 0->2", 5e-3, E_B[2] - E_B[0], 0.2),
    ):
        up, down = transition_rates(Gamma, E, T)
        lo, hi = name.split(" ")[1].split("->")
        assert rates[name] == pytest.approx(up, rel=TOL)
        assert rates[f"{name[0]}:down {hi}->{lo}"] == pytest.approx(down, rel=TOL)
    assert "A:up 0->2" not in rates  # Gamma_A[(0, 2)] = 0 adds no jump


def test_lindblad_at_inversion_only_pumps_up() -> None:
    model = LindbladModel(qudit(2, g=1e-3), "-0", 0.0, 1e-3, 1e-3)
    names = [j.name for j in model.jump_operators()]
    assert all("up" in n for n in names if n.startswith("A:"))
    assert all("down" in n for n in names if n.startswith("B:"))


# ---------------------------------------------------------------- very cold baths


def _exact_occupation(E: float, T: float) -> float:
    """1/(e^{E/T} - 1) in 40 digits, rounded to float (0.0 below the subnormals)."""
    with mpmath.workdps(40):
        return float(1 / mpmath.expm1(mpmath.mpf(E) / mpmath.mpf(T)))


@pytest.fixture
def no_float_warnings():
    """Turn every warning and floating-point error into an exception."""
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        yield


@pytest.mark.usefixtures("no_float_warnings")
@pytest.mark.parametrize("x", [700.0, 710.0, 1e4, 1e300])
@pytest.mark.parametrize("E", [1.0, 4.0])
def test_cold_baths_match_the_exact_occupation(x: float, E: float) -> None:
    """E/T beyond the overflow of exp (x ~ 709.78): n_B, the rates and tau stay exact
    (to 1e-12 relative; exactly 0 where the value is below the subnormals)."""
    T = E / x
    n = _exact_occupation(E, T)
    assert bose_einstein(E, T) == pytest.approx(n, rel=TOL, abs=0)
    up, down = transition_rates(2.0, E, T)
    assert up == pytest.approx(2.0 * n, rel=TOL, abs=0)
    assert down == pytest.approx(2.0, rel=TOL)
    p = thermal_populations((0.0, E, 2 * E), T)
    assert p[0] == pytest.approx(1.0, rel=TOL)
    with mpmath.workdps(40):
        w = mpmath.exp(-mpmath.mpf(E) / mpmath.mpf(T))
        p1 = float(w / (1 + w + w * w))
    assert p[1] == pytest.approx(p1, rel=TOL, abs=0)


@pytest.mark.usefixtures("no_float_warnings")
@pytest.mark.parametrize("T", [1e-100, 1e-300, 5e-324])
def test_temperature_to_zero_plus_reaches_the_zero_temperature_limit(T: float) -> None:
    assert bose_einstein(1.0, T) == 0.0
    assert transition_rates(2.0, 1.0, T) == (0.0, 2.0)
    for levels in (QUTRIT_LEVELS, (0.0, 0.0, 1.0), (0.0, 1e-13, 1.0)):
        np.testing.assert_array_equal(
            thermal_populations(levels, T), thermal_populations(levels, 0.0)
        )


@pytest.mark.usefixtures("no_float_warnings")
def test_cold_limit_is_monotone_and_inversion_is_unchanged() -> None:
    temperatures = [10.0 ** (-k) for k in range(1, 309)]
    n = [bose_einstein(3.0, T) for T in temperatures]
    assert all(a >= b for a, b in itertools.pairwise(n))
    assert n[-1] == 0.0
    assert bose_einstein(3.0, "-0") == -1.0
    assert transition_rates(2.0, 3.0, "-0") == (2.0, 0.0)
    np.testing.assert_array_equal(thermal_populations(QUTRIT_LEVELS, "-0"), [0, 0, 1])
    for bad in (-1e-300, -5e-324, -1.0):
        with pytest.raises(ValueError, match="negative"):
            bose_einstein(1.0, bad)


def test_cold_lindblad_model_has_a_steady_state() -> None:
    """Fig. 5(b) machine with T_B = 0.005: E/T_B up to 800 on B (eps = 3)."""
    model = LindbladModel(qutrit(g=1.6e-3, eps=3.0), 6.0, 0.005, 1e-4, 5e-3, 3.5e-5)
    rates = {j.name: float(np.abs(j.vals[0]) ** 2) for j in model.jump_operators()}
    assert rates["B:up 1->2"] == pytest.approx(5e-3 * math.exp(-200.0), rel=1e-10)
    assert "B:up 0->2" not in rates  # 5e-3 e^{-800} underflows to 0: no jump
    rho = steady_state(model)
    assert np.trace(rho).real == pytest.approx(1.0, abs=1e-12)
    assert np.linalg.eigvalsh(rho).min() > -1e-12
    assert herald(rho, model.machine.filter).p_suc > 1e-3


def test_cold_bath_run_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "cold"
    args = [
        "lindblad-fig5b",
        "--set",
        "baths.T_B=0.005",
        "--set",
        "sampling.n_traj=200",
        "--set",
        "sampling.batch_size=100",
        "--set",
        "protocol.attempts=3",
        "--jobs",
        "1",
        "--out",
        str(out),
        "--no-report",
        "--quiet",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "trajectories.run", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "summary.json").exists()
