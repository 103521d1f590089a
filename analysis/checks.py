"""Checks of the inputs that analysis and ``trajectories`` share: real numbers,
integers, probabilities and unit vectors, each with one rule and one tolerance.

``analysis`` imports nothing of ``trajectories``, so these live here and
``trajectories.system.checks`` takes them from this module: an integer, a probability
or a unit vector is checked the same way everywhere. Every message names the
parameter, its value and the valid range.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

STATE_TOL = 1e-10
"""Tolerance on the norm of a state vector and on the trace, Hermiticity and
positivity of a density matrix."""


def is_real(value: object) -> bool:
    """An int or float, numpy ones too (booleans and strings are not numbers)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def is_integer(value: object) -> bool:
    """An int or numpy integer (booleans excluded)."""
    return isinstance(value, (int, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def check_int(value: object, name: str, minimum: int = 1) -> int:
    """``value`` as an int, refusing non-integers and integers below ``minimum``.

    Examples
    --------
    >>> check_int(3, "n")
    3
    >>> check_int(0, "n")
    Traceback (most recent call last):
    ...
    ValueError: n=0 must be an integer >= 1
    """
    if not is_integer(value):
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    if value < minimum:  # type: ignore[operator]
        raise ValueError(f"{name}={value} must be an integer >= {minimum}")
    return int(value)  # type: ignore[call-overload]


def check_probability(
    value: object, name: str, *, open_low: bool = False, open_high: bool = False
) -> float:
    """``value`` as a float in [0, 1], or in (0, 1], [0, 1), (0, 1) as asked.

    Examples
    --------
    >>> check_probability(0.25, "p")
    0.25
    >>> check_probability(1.0, "q", open_low=True, open_high=True)
    Traceback (most recent call last):
    ...
    ValueError: q=1.0 must be in (0, 1)
    """
    interval = f"{'(' if open_low else '['}0, 1{')' if open_high else ']'}"
    if not is_real(value):
        raise ValueError(f"{name}={value!r} must be a real number in {interval}")
    p = float(value)  # type: ignore[arg-type]
    low_ok = p > 0 if open_low else p >= 0
    high_ok = p < 1 if open_high else p <= 1
    if not (low_ok and high_ok):
        raise ValueError(f"{name}={p} must be in {interval}")
    return p


def check_unit_vector(psi: NDArray[np.complex128], name: str) -> None:
    """Refuse a vector whose norm differs from 1 by more than ``STATE_TOL``."""
    norm = float(np.linalg.norm(psi))
    if abs(norm - 1) > STATE_TOL:
        raise ValueError(f"{name} must be a unit vector (norm 1), got norm {norm:.12g}")
