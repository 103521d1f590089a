"""Thermal states, Bose-Einstein occupations and the rates of a thermal bath.

Temperatures follow the conventions of ``checks.parse_temperature``: a float in units
of the first gap of system A, ``math.inf``, or ``INVERTED`` (``-0.0``) for population
inversion (App. G).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from trajectories.system.checks import (
    RATE_RANGE,
    check_positive,
    check_rate,
    is_inverted,
    parse_temperature,
    real_number,
)

_ENERGY_TOL = 1e-12
"""Levels within this of the lowest (or, at inversion, highest) one share its
population at T = 0 (and T -> 0^-)."""

_EXPM1_MAX = 700.0
"""Above this x = E/T, n_B = e^{-x}/(1 - e^{-x}) (math.expm1 overflows at ~709.78)."""


def thermal_populations(
    energies: Sequence[float] | NDArray[np.float64], T: float
) -> NDArray[np.float64]:
    """Populations of the thermal state ``exp(-H/T)/Z`` of a diagonal Hamiltonian.

    Degenerate ground (or, for inversion, top) levels share the population equally.

    Examples
    --------
    >>> thermal_populations([0.0, 1.0, 2.0], 0.0)
    array([1., 0., 0.])
    >>> thermal_populations([0.0, 1.0], float("inf"))
    array([0.5, 0.5])
    """
    E = _energies(energies)
    T = parse_temperature(T)
    if T == math.inf:
        w = np.ones_like(E)
    elif is_inverted(T):
        w = (E >= E.max() - _ENERGY_TOL).astype(float)
    elif T == 0.0:
        w = (E <= E.min() + _ENERGY_TOL).astype(float)
    else:
        w = _boltzmann_weights(E, T)
    return w / w.sum()


def _boltzmann_weights(E: NDArray[np.float64], T: float) -> NDArray[np.float64]:
    """exp(-(E - E_min)/T) for 0 < T < inf, with the ground levels of ``T = 0`` (within
    ``_ENERGY_TOL``) at weight 1, so that T -> 0+ tends to the T = 0 state. Ratios
    (E - E_min)/T that overflow (T below ~1e-308) give weight 0, without warnings."""
    x = E - E.min()
    x[x <= _ENERGY_TOL] = 0.0
    with np.errstate(over="ignore", under="ignore"):
        return np.exp(-(x / T))


def _energies(energies: Sequence[float] | NDArray[np.float64]) -> NDArray[np.float64]:
    """Level energies as a float array, refusing empty, non-1-D or non-finite input."""
    try:
        E = np.asarray(energies, dtype=float)
    except (TypeError, ValueError):
        E = None
    if E is None or E.ndim != 1 or E.size == 0 or not np.all(np.isfinite(E)):
        raise ValueError(
            f"energies={energies!r} must be a non-empty 1-D sequence of finite numbers"
        )
    return E


def thermal_state(
    energies: Sequence[float] | NDArray[np.float64], T: float
) -> NDArray[np.float64]:
    """The thermal state tau = exp(-H/T)/Z (Eq. 4) as a dense (d, d) matrix."""
    return np.diag(thermal_populations(energies, T))


def bose_einstein(E: float, T: float) -> float:
    """Mean occupation n_B(E, T) = 1/(exp(E/T) - 1) of a bosonic mode, E > 0 (Eq. F1).

    Evaluated as exp(-E/T)/(1 - exp(-E/T)) for E/T > 700, so that very cold baths
    tend smoothly to the T = 0 value 0 (exactly 0 once exp(-E/T) underflows). At
    population inversion (T -> 0^-) this tends to -1.

    Examples
    --------
    >>> bose_einstein(1.0, 0.0)
    0.0
    >>> round(bose_einstein(1.0, 1.0), 6)
    0.581977
    """
    E = check_positive(E, "transition energy E")
    T = parse_temperature(T)
    if T == math.inf:
        return math.inf
    if is_inverted(T):
        return -1.0
    if T == 0.0:
        return 0.0
    x = E / T  # inf if T is so small that the ratio overflows
    if x < _EXPM1_MAX:
        return 1.0 / math.expm1(x)
    return math.exp(-x) / -math.expm1(-x)  # e^x would overflow; -> 0 as T -> 0+


def transition_rates(Gamma: float, E: float, T: float) -> tuple[float, float]:
    """Absorption and emission rates (Gamma^+, Gamma^-) of one transition (Eq. F1).

    Gamma^+ = Gamma n_B and Gamma^- = Gamma (1 + n_B), so that Gamma^+/Gamma^- =
    exp(-E/T) (Eq. F5). At population inversion the magnitudes are taken, giving
    (Gamma, 0). Infinite temperature makes both rates diverge and is refused.

    Examples
    --------
    >>> transition_rates(2.0, 1.0, 0.0)
    (0.0, 2.0)
    """
    Gamma = check_rate(
        real_number(Gamma, "Gamma", f"a real number, {RATE_RANGE}"), "Gamma"
    )
    n = bose_einstein(E, parse_temperature(T, finite=True))
    return Gamma * abs(n), Gamma * abs(1.0 + n)
