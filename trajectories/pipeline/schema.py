"""The config schema: every section's keys with their checks and allowed ranges.

Each check takes ``(key, value)`` and returns the value or raises ``ConfigError``
naming the key, its value and the valid range.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from trajectories.system import machines as presets
from trajectories.system.checks import parse_temperature


class ConfigError(ValueError):
    """A bad configuration: the message names the key, its value and the valid range."""


def _number(
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    integer: bool = False,
) -> Callable[[str, Any], Any]:
    def check(key: str, value: Any) -> Any:
        kind = "an integer" if integer else "a number"
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type:
            raise ConfigError(f"{key}={value!r} must be {kind}")
        low_ok = value > lo if lo_open else value >= lo
        if not (math.isfinite(value) and low_ok and value <= hi):
            bracket = "(" if lo_open else "["
            raise ConfigError(f"{key}={value!r} is out of range {bracket}{lo}, {hi}]")
        return value

    return check


def _choice(*options: str) -> Callable[[str, Any], Any]:
    def check(key: str, value: Any) -> Any:
        if value not in options:
            raise ConfigError(f"{key}={value!r} must be one of {', '.join(options)}")
        return value

    return check


def _temperature(key: str, value: Any) -> float | str:
    """Validate a temperature; keep it as written (JSON has no inf or -0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{key}={value!r} must be a number >= 0, 'inf' or '-0'")
    try:
        T = parse_temperature(value, key)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return value if isinstance(value, str) or math.isfinite(T) else "inf"


def _list_of(item: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    def check(key: str, value: Any) -> list:
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{key}={value!r} must be a non-empty list")
        return [item(f"{key}[{i}]", v) for i, v in enumerate(value)]

    return check


RATE = _number(0.0)
SCHEMA: dict[str, dict[str, Callable[[str, Any], Any]]] = {
    "machine": {
        "kind": _choice(*presets.PRESETS),
        "d": _number(2, 64, integer=True),
        "g": RATE,
        "theta": _number(-10.0, 10.0),
        "eps": _number(0.0, lo_open=True),
        "gaps": _list_of(_number(0.0, lo_open=True)),
        "couplings": _list_of(RATE),
        "g3": RATE,
        "lambdas": _list_of(_number(0.0, 1.0)),
        "g1": RATE,
        "g2": RATE,
        "keep": _choice("upper", "lower"),
    },
    "baths": {
        "model": _choice("reset", "lindblad"),
        "T_A": _temperature,
        "T_B": _temperature,
        "p_A": RATE,
        "p_B": RATE,
        "Gamma_A": RATE,
        "Gamma_B": RATE,
        "dephasing": RATE,
    },
    "filter": {
        "levels_A": _list_of(_number(0, 63, integer=True)),
        "levels_B": _list_of(_number(0, 63, integer=True)),
    },
    "protocol": {
        "attempt_period": _number(0.0, lo_open=True),
        "attempts": _number(1, 10**6, integer=True),
        "machines": _number(1, 10**6, integer=True),
        "restart": _choice("thermal", "steady"),
    },
    "sampling": {
        "n_traj": _number(1, 10**10, integer=True),
        "batch_size": _number(1, 10**7, integer=True),
        "seed": _number(0, 2**63 - 1, integer=True),
        "initial": _choice("steady", "thermal", "ground"),
        "burn_in": _number(0.0, 1e12),
    },
}
MACHINE_KEYS = {
    "qutrit": {"g", "theta", "eps", "g3"},
    "qudit": {"d", "g", "couplings", "gaps", "eps", "g3"},
    "schmidt": {"lambdas", "g", "gaps"},
    "one-step": {"d", "g", "g1", "couplings"},
    "qubit-qubit": {"g"},
    "qubit-qutrit": {"g1", "g2", "keep"},
}
MODEL_KEYS = {"reset": {"p_A", "p_B"}, "lindblad": {"Gamma_A", "Gamma_B", "dephasing"}}
