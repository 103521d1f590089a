"""The config schema: every section's keys with their checks, allowed ranges and
defaults, the one source of the defaults of a run (``--help`` prints it).

Each ``Key`` is called as ``key(name, value)`` and returns the value or raises
``ConfigError`` naming the key, its value and the allowed range. A key has a
default value, or is derived from other keys (``derived`` says how), or is
required. The machine keys (``MACHINE_KEYS``) and their defaults
(``machine_defaults``) are read from the signatures of the machine builders in
``trajectories/system/machines.py``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trajectories.system import machines as presets
from trajectories.system.checks import parse_temperature


class ConfigError(ValueError):
    """A bad configuration: the message names the key, its value and the valid range."""


REQUIRED = "required"
"""The default of a key that has none."""
FROM_MACHINE = "the machine's"
"""The default of a machine key: the builder's (``machine_defaults``)."""


@dataclass(frozen=True)
class Key:
    """A config key: its check, the range it allows, its default (a value,
    ``REQUIRED`` or ``FROM_MACHINE``) or how it is derived, and what it means."""

    check: Callable[[str, Any], Any]
    allowed: str
    doc: str
    default: Any = REQUIRED
    derived: str = ""

    def __call__(self, name: str, value: Any) -> Any:
        return self.check(name, value)


def _g(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def _number_range(lo: float, hi: float, lo_open: bool, integer: bool) -> str:
    kind = "an integer" if integer else "a number"
    if hi == math.inf:
        return f"{kind} {'>' if lo_open else '>='} {_g(lo)}" if lo > -math.inf else kind
    return f"{kind} in {'(' if lo_open else '['}{_g(lo)}, {_g(hi)}]"


def _number(
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    integer: bool = False,
) -> tuple[Callable[[str, Any], Any], str]:
    allowed = _number_range(lo, hi, lo_open, integer)

    def check(key: str, value: Any) -> Any:
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type:
            raise ConfigError(f"{key}={value!r} must be {allowed}")
        low_ok = value > lo if lo_open else value >= lo
        if not (math.isfinite(value) and low_ok and value <= hi):
            raise ConfigError(f"{key}={value!r} is out of range: must be {allowed}")
        return value

    return check, allowed


def _choice(*options: str) -> tuple[Callable[[str, Any], Any], str]:
    allowed = " | ".join(f'"{o}"' for o in options)

    def check(key: str, value: Any) -> Any:
        if value not in options:
            raise ConfigError(f"{key}={value!r} must be one of {', '.join(options)}")
        return value

    return check, allowed


def _temperature(key: str, value: Any) -> float | str:
    """Validate a temperature; keep it as written (JSON has no inf or -0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{key}={value!r} must be a number >= 0, 'inf' or '-0'")
    try:
        T = parse_temperature(value, key)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return value if isinstance(value, str) or math.isfinite(T) else "inf"


TEMPERATURE = (_temperature, 'a number >= 0, "inf", or "-0" (population inversion)')


def _list_of(
    item: tuple[Callable[[str, Any], Any], str], max_len: int | None = None
) -> tuple[Callable[[str, Any], Any], str]:
    check_item, allowed = item
    size = "a list" if max_len is None else f"a list of at most {max_len}"

    def check(key: str, value: Any) -> list:
        if not isinstance(value, list) or not value:
            raise ConfigError(
                f"{key}={value!r} must be a non-empty list, each {allowed}"
            )
        if max_len is not None and len(value) > max_len:
            raise ConfigError(
                f"{key} has {len(value)} entries: must be {size}, each {allowed}"
            )
        return [check_item(f"{key}[{i}]", v) for i, v in enumerate(value)]

    return check, f"{size}, each {allowed}"


def _target(key: str, value: Any) -> str | list:
    """ "machine", "max-entangled" or a list of Schmidt coefficients >= 0."""
    if isinstance(value, list):
        return RATES[0](key, value)
    if value not in ("machine", "max-entangled"):
        raise ConfigError(f"{key}={value!r} must be {TARGET[1]}")
    return value


def key(
    rule: tuple[Callable[[str, Any], Any], str],
    doc: str,
    default: Any = REQUIRED,
    derived: str = "",
) -> Key:
    """A ``Key`` from a (check, allowed) rule."""
    return Key(rule[0], rule[1], doc, default, derived)


# The limits of the sizes of a run: what the program can do (README, "Sizes").
D_MAX = 34
"""Largest d (qudit, one-step) and number of Schmidt coefficients: the exact
references (law of K, delivered state) are dense on the chain's support, (d+1)^2 +
d(d+1) <= 2500 entries of vec(rho) (``attempt_chain.MAX_DENSE_SUPEROPERATOR``;
2415 at d = 34); a qudit run of 2000 machines takes ~2 CPU min and 2.5 GB there."""
N_TRAJ_MAX = 10**8
"""Most machines: the summary keeps one K per machine (0.4 GB at the limit)."""
BATCH_MAX = 10**5
"""Most machines per batch (and per bank, which lies in one batch): a batch holds
its records and jump codes in memory (the default machine: ~10 kB per machine)."""
ATTEMPTS_MAX = 10**5
"""Most attempts per machine: the exact law of K costs attempts x R^2 (R the chain's
support): ~10 min at D_MAX."""

RATE = _number(0.0)
RATES = _list_of(RATE)
LEVELS = _list_of(_number(0, D_MAX, integer=True))
TARGET = (_target, '"machine" | "max-entangled" | a list of Schmidt coefficients >= 0')
M = FROM_MACHINE
SCHEMA: dict[str, dict[str, Key]] = {
    "machine": {
        "kind": key(_choice(*presets.PRESETS), "the machine (machines.py)", "qutrit"),
        "d": key(
            _number(2, D_MAX, integer=True),
            "qudit: d + 1 levels a side; one-step: d",
            M,
        ),
        "g": key(RATE, "the coupling strength g", M),
        "theta": key(_number(-10.0, 10.0), "g1 = g cos(theta), g2 = g sin(theta)", M),
        "eps": key(_number(0.0, lo_open=True), "the gap eps (Eqs. 1-2, 9)", M),
        "gaps": key(
            _list_of(_number(0.0, lo_open=True)), "the gaps of A (of B: reversed)", M
        ),
        "couplings": key(RATES, "every coupling g_k", M),
        "g3": key(RATE, "the term g3 |1,1><0,2| + h.c. (Eq. A1)", M),
        "lambdas": key(
            _list_of(_number(0.0, 1.0), D_MAX), "the target's Schmidt coefficients", M
        ),
        "g1": key(RATE, "the first coupling (one-step: inside the filter)", M),
        "g2": key(RATE, "qubit-qutrit: the second coupling", M),
        "keep": key(_choice("upper", "lower"), "the qutrit levels the filter keeps", M),
    },
    "baths": {
        "model": key(_choice("reset", "lindblad"), "the bath model", "reset"),
        "T_A": key(TEMPERATURE, "temperature of bath A (hot)", "inf"),
        "T_B": key(TEMPERATURE, "temperature of bath B (cold)", 0.0),
        "p_A": key(RATE, "reset rate of A (reset model, Eq. 4)", 0.002),
        "p_B": key(RATE, "reset rate of B (reset model)", 0.01),
        "Gamma_A": key(RATE, "decay rate of A (lindblad model, Eq. F6)", 0.002),
        "Gamma_B": key(RATE, "decay rate of B (lindblad model)", 0.01),
        "dephasing": key(RATE, "dephasing rate (lindblad model)", 0.0),
    },
    "filter": {
        "levels_A": key(
            LEVELS, "the levels of A the filter keeps", derived="the machine's filter"
        ),
        "levels_B": key(
            LEVELS, "the levels of B the filter keeps", derived="the machine's filter"
        ),
        "target": key(TARGET, "the target state of the fidelity", "machine"),
        "target_phases": key(
            _list_of(_number(-10.0, 10.0)),
            "phases phi_k of the target's components",
            derived="the phases of the machine's target",
        ),
    },
    "protocol": {
        "attempt_period": key(
            _number(0.0, lo_open=True), "T, the time between attempts", 200.0
        ),
        "attempts": key(
            _number(1, ATTEMPTS_MAX, integer=True), "attempts per machine", 60
        ),
        "machines": key(
            _number(1, BATCH_MAX, integer=True), "machines per bank (lockstep)", 4
        ),
        "restart": key(
            _choice("thermal", "steady"), "state after a delivered pair", "thermal"
        ),
    },
    "sampling": {
        "n_traj": key(
            _number(1, N_TRAJ_MAX, integer=True),
            "machines (x protocol.machines)",
            40000,
        ),
        "batch_size": key(
            _number(1, BATCH_MAX, integer=True), "machines per batch", 5000
        ),
        "seed": key(_number(0, 2**63 - 1, integer=True), "the seed", 20261124),
        "initial": key(
            _choice("steady", "thermal", "ground"), "where machines start", "steady"
        ),
        "burn_in": key(
            _number(0.0, 1e12),
            "time before the first attempt",
            derived="0 for a steady start, else ten relaxation times",
        ),
    },
}
"""Every key of every section (the sweep has its own syntax)."""

DERIVED_MACHINE_KEYS = {
    "couplings": "from g (qudit: g/sqrt(2) each; one-step: g1, g, ..., g)",
    "gaps": "qudit, schmidt: (1, eps, ..., eps); one-step: (1, ..., 1)",
}
"""How the machine keys whose builder default is None are derived."""

MODEL_KEYS = {"reset": {"p_A", "p_B"}, "lindblad": {"Gamma_A", "Gamma_B", "dephasing"}}
"""The bath keys of each model (besides model, T_A, T_B)."""


def _signature(kind: str) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(presets.PRESETS[kind]).parameters)


MACHINE_KEYS = {kind: set(_signature(kind)) for kind in presets.PRESETS}
"""The keys of each machine kind: its builder's parameters."""


def machine_defaults(kind: str) -> dict[str, Any]:
    """The machine keys of ``kind`` with their defaults: a value, ``REQUIRED`` or
    the text of ``DERIVED_MACHINE_KEYS`` (a builder default of None).

    >>> machine_defaults("one-step")["g1"]
    0.005
    """
    out = {}
    for name, p in _signature(kind).items():
        if p.default is inspect.Parameter.empty:
            out[name] = REQUIRED
        elif p.default is None:
            out[name] = DERIVED_MACHINE_KEYS[name]
        else:
            out[name] = p.default
    return out


def has_value(kind: str, name: str) -> bool:
    """Whether the default of machine key ``name`` of ``kind`` is a value."""
    p = _signature(kind)[name]
    return p.default is not inspect.Parameter.empty and p.default is not None
