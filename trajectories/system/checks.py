"""The one validator of each kind of scalar input, used by every layer.

* ``check_rate``: rates p_A, p_B, Gamma, dephasing (finite, >= 0);
* ``check_coupling_strength``: real couplings g (finite, >= 0); ``check_coupling``:
  complex couplings (finite);
* ``check_positive``: periods, gaps, transition energies (finite, > 0);
* ``check_finite_real``: angles (finite);
* ``parse_temperature``: temperatures (below);
* ``check_int``, ``check_probability`` and ``check_unit_vector`` (with ``STATE_TOL``),
  shared with ``analysis`` and defined in ``analysis.checks``;
* ``check_sequence``: a list or tuple of parameters.

A real number is an int or a float (numpy ones too), never a bool or a string. Every
ValueError names the parameter, its value and the valid range. Density matrices are
checked by ``states.check_state``, filters by ``filters.Filter``.

Temperatures are floats in units of the first gap of system A (hbar = k_B = 1):
``0.0`` (the ground state), ``0 < T < inf`` (a Gibbs state), ``math.inf`` (the
maximally mixed state) and ``INVERTED`` (``-0.0``, written ``"-0"`` in configs):
population inversion, the limit ``T -> 0^-`` of App. G, in which all population sits
in the highest level. Any other negative temperature is refused.
"""

from __future__ import annotations

import math

import numpy as np

from analysis.checks import (
    STATE_TOL,
    check_int,
    check_probability,
    check_unit_vector,
    is_integer,
    is_real,
)

__all__ = [
    "INVERTED",
    "RATE_RANGE",
    "STATE_TOL",
    "check_coupling",
    "check_coupling_strength",
    "check_finite_real",
    "check_int",
    "check_positive",
    "check_probability",
    "check_rate",
    "check_sequence",
    "check_unit_vector",
    "is_integer",
    "is_inverted",
    "parse_temperature",
    "real_number",
]

INVERTED = -0.0
"""The population-inversion temperature ``T -> 0^-`` (App. G)."""

RATE_RANGE = "a finite rate >= 0"
"""The valid range of a rate, as the messages give it."""

_TEMPERATURES = "a number >= 0, 'inf', or '-0' (population inversion)"
_INVERSION_NAMES = {"-0", "-0.0", "0-", "inversion", "inverted"}


def real_number(value: object, name: str, valid: str) -> float:
    """float(value) of a real number; anything else raises '{name}=... must be
    {valid}'."""
    if not is_real(value):
        raise ValueError(f"{name}={value!r} must be {valid}")
    return float(value)  # type: ignore[arg-type]


def check_rate(value: object, name: str) -> float:
    """A rate: a finite real number >= 0."""
    rate = real_number(value, name, RATE_RANGE)
    if not (rate >= 0 and math.isfinite(rate)):
        raise ValueError(f"{name}={rate} must be {RATE_RANGE}")
    return rate


def check_duration(value: object, name: str) -> float:
    """A duration: a finite real number >= 0."""
    t = real_number(value, name, "a finite time >= 0")
    if not (t >= 0 and math.isfinite(t)):
        raise ValueError(f"{name}={t} must be a finite time >= 0")
    return t


def check_coupling_strength(value: object, name: str) -> float:
    """A real coupling: a finite real number >= 0."""
    g = real_number(value, name, "a real number >= 0")
    if not (g >= 0 and math.isfinite(g)):
        raise ValueError(f"{name}={g} must be finite and >= 0")
    return g


def check_positive(value: object, name: str) -> float:
    """A period, gap or transition energy: a finite real number > 0."""
    x = real_number(value, name, "a real number, finite and > 0")
    if not (x > 0 and math.isfinite(x)):
        raise ValueError(f"{name}={x} must be finite and > 0")
    return x


def check_finite_real(value: object, name: str) -> float:
    """An angle: any finite real number."""
    x = real_number(value, name, "a finite real number")
    if not math.isfinite(x):
        raise ValueError(f"{name}={x} must be a finite real number")
    return x


def check_coupling(value: object, name: str) -> complex:
    """A complex coupling: a finite (complex) number."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, complex, np.number)
    ):
        raise ValueError(f"{name}={value!r} must be a finite (complex) number")
    c = complex(value)
    if not np.isfinite(c):
        raise ValueError(f"{name}={c} must be finite")
    return c


def check_sequence(value: object, name: str) -> tuple[object, ...]:
    """``value`` as a tuple, refusing strings and non-iterables."""
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name}={value!r} must be a sequence")
    try:
        return tuple(value)  # type: ignore[call-overload]
    except TypeError:
        raise ValueError(f"{name}={value!r} must be a sequence") from None


def is_inverted(T: float) -> bool:
    """True for the population-inversion temperature ``T -> 0^-``."""
    return T == 0.0 and math.copysign(1.0, T) < 0


def parse_temperature(
    value: float | str, name: str = "T", *, finite: bool = False
) -> float:
    """Read a temperature: a number >= 0, ``inf``, or ``"-0"`` for population inversion;
    ``finite=True`` refuses ``inf`` (the Bose-Einstein rates of the Lindblad model).

    Examples
    --------
    >>> parse_temperature("inf"), parse_temperature(0.5)
    (inf, 0.5)
    >>> is_inverted(parse_temperature("-0"))
    True
    """
    shown = repr(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _INVERSION_NAMES:
            return INVERTED
        try:
            value = float(text)
        except ValueError:
            pass
    if not is_real(value) or math.isnan(value):  # type: ignore[arg-type]
        shown = "nan" if is_real(value) else shown
        raise ValueError(
            f"{name}={shown} is not a temperature: expected {_TEMPERATURES}"
        )
    T = float(value)  # type: ignore[arg-type]
    if T < 0:
        raise ValueError(
            f"{name}={T} is negative: valid temperatures are 0 <= T <= inf, or '-0' "
            "for population inversion (T -> 0^-)"
        )
    if finite and T == math.inf:
        raise ValueError(
            f"{name}=inf: the Lindblad model needs a finite temperature (Bose-Einstein "
            "rates diverge at T = inf); valid range 0 <= T < inf, or '-0' (population "
            "inversion)"
        )
    return T
