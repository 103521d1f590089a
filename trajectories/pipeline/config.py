"""Run configurations: TOML (or a named preset) -> a validated, frozen ``RunConfig``.

Sections and keys (``README.md`` documents them with examples):

    [machine]   kind, d, g, theta, eps, gaps, couplings, g3, lambdas, g1, g2, keep
    [baths]     model ("reset" | "lindblad"), T_A, T_B, p_A, p_B, Gamma_A, Gamma_B,
                dephasing
    [filter]    levels_A, levels_B (the kept levels; default: the machine's filter)
    [protocol]  attempt_period, attempts, machines, restart ("thermal" | "steady")
    [sampling]  n_traj, batch_size, seed
    [sweep]     "section.key" = [values, ...]: a grid, one summary row per point

Every error is a ``ConfigError`` naming the key, its value and the allowed range.
``check_can_succeed`` also refuses, before any work, a config whose filter can never
succeed (p_suc = 0 in the exact steady state) or whose steady state is not unique.
"""

from __future__ import annotations

import copy
import itertools
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from trajectories.exact.states import NonUniqueSteadyStateError, steady_state
from trajectories.system import machines as presets
from trajectories.system.checks import parse_temperature
from trajectories.system.filters import Filter
from trajectories.system.models import LindbladModel, OpenSystem, ResetModel

PRESETS = resources.files("trajectories.pipeline") / "presets"
"""The presets (package data): ``NAME.toml``; ``default`` is the embedded default."""


def preset_names() -> list[str]:
    """The names of the presets."""
    return sorted(
        p.name.removesuffix(".toml")
        for p in PRESETS.iterdir()
        if p.name.endswith(".toml")
    )


def preset_text(name: str) -> str:
    """The TOML text of a preset; ConfigError naming the presets if unknown."""
    path = PRESETS / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(
            f"unknown preset {name!r}; presets: {', '.join(preset_names())}"
        )
    return path.read_text(encoding="utf-8")


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


@dataclass(frozen=True)
class RunConfig:
    """A validated configuration: plain section dicts plus the sweep grid."""

    machine: dict[str, Any]
    baths: dict[str, Any]
    filter: dict[str, Any]
    protocol: dict[str, Any]
    sampling: dict[str, Any]
    sweep: dict[str, list[Any]]

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain data (for manifests)."""
        return copy.deepcopy(
            {
                name: getattr(self, name)
                for name in (
                    "machine",
                    "baths",
                    "filter",
                    "protocol",
                    "sampling",
                    "sweep",
                )
            }
        )

    def points(self) -> list[RunConfig]:
        """One configuration per point of the sweep grid (itself if no sweep)."""
        if not self.sweep:
            return [self]
        keys = list(self.sweep)
        out = []
        for values in itertools.product(*(self.sweep[k] for k in keys)):
            data = self.to_dict()
            data["sweep"] = {}
            for key, value in zip(keys, values, strict=True):
                section, name = key.split(".")
                data[section][name] = value
            out.append(validate(data))
        return out

    def build_model(self) -> OpenSystem:
        """The machine, its filter and the bath model described by this config."""
        kind = self.machine["kind"]
        kwargs = {k: v for k, v in self.machine.items() if k != "kind"}
        try:
            machine = presets.PRESETS[kind](**kwargs)
            if self.filter:
                d_A, d_B = machine.dims
                filt = Filter.from_levels(
                    d_A,
                    d_B,
                    self.filter.get("levels_A", range(d_A)),
                    self.filter.get("levels_B", range(d_B)),
                )
                machine = presets.Machine(
                    machine.energies_A,
                    machine.energies_B,
                    machine.transitions,
                    filter=filt,
                    target=None,
                    name=machine.name,
                    params=machine.params,
                )
            b = self.baths
            if b["model"] == "reset":
                return ResetModel(machine, b["p_A"], b["p_B"], b["T_A"], b["T_B"])
            return LindbladModel(
                machine,
                b["T_A"],
                b["T_B"],
                b["Gamma_A"],
                b["Gamma_B"],
                b.get("dephasing", 0.0),
            )
        except ConfigError:
            raise
        except ValueError as err:
            raise ConfigError(
                f"[{kind} machine / {self.baths['model']} model] {err}"
            ) from None


def _check_section(name: str, data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"[{name}] must be a table, got {data!r}")
    schema = SCHEMA[name]
    out = {}
    for key, value in data.items():
        if key not in schema:
            raise ConfigError(
                f"unknown key {name}.{key}={value!r}; allowed keys: {', '.join(schema)}"
            )
        out[key] = schema[key](f"{name}.{key}", value)
    return out


def validate(data: Mapping[str, Any]) -> RunConfig:
    """Check every section and key of a parsed TOML document."""
    unknown = set(data) - set(SCHEMA) - {"sweep"}
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(
            f"unknown section [{key}]; allowed: {', '.join(SCHEMA)}, sweep"
        )
    sections = {name: _check_section(name, data.get(name, {})) for name in SCHEMA}
    machine, baths = sections["machine"], sections["baths"]
    for section, required in (("machine", "kind"), ("baths", "model")):
        if required not in sections[section]:
            raise ConfigError(f"{section}.{required} is required")
    extra = set(machine) - {"kind"} - MACHINE_KEYS[machine["kind"]]
    if extra:
        key = sorted(extra)[0]
        raise ConfigError(
            f"machine.{key}={machine[key]!r} does not apply to "
            f"kind={machine['kind']!r}; "
            f"allowed: {', '.join(sorted(MACHINE_KEYS[machine['kind']]))}"
        )
    model = baths["model"]
    wrong = set(baths) - {"model", "T_A", "T_B"} - MODEL_KEYS[model]
    if wrong:
        key = sorted(wrong)[0]
        raise ConfigError(
            f"baths.{key}={baths[key]!r} does not apply to model={model!r}"
        )
    needed = {"T_A", "T_B"} | MODEL_KEYS[model] - {"dephasing"}
    missing = sorted(needed - set(baths))
    if missing:
        raise ConfigError(f"baths.{missing[0]} is required for model={model!r}")
    for key, default in (("restart", "thermal"), ("machines", 1)):
        sections["protocol"].setdefault(key, default)
    for key in ("attempt_period", "attempts"):
        if key not in sections["protocol"]:
            raise ConfigError(f"protocol.{key} is required")
    sampling = sections["sampling"]
    for key in ("n_traj", "batch_size", "seed"):
        if key not in sampling:
            raise ConfigError(f"sampling.{key} is required")
    machines = sections["protocol"]["machines"]
    for key in ("n_traj", "batch_size"):
        if sampling[key] % machines:
            raise ConfigError(
                f"sampling.{key}={sampling[key]} must be a multiple of "
                f"protocol.machines={machines} (banks are never split)"
            )
    sweep = _check_sweep(data.get("sweep", {}))
    return RunConfig(sweep=sweep, **sections)


def _check_sweep(data: Any) -> dict[str, list[Any]]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"[sweep] must be a table, got {data!r}")
    out = {}
    for key, values in data.items():
        section, _, name = key.partition(".")
        if section not in SCHEMA or name not in SCHEMA[section]:
            raise ConfigError(f"sweep key {key!r} must name a setting as 'section.key'")
        if section == "sampling":
            raise ConfigError(f"sweep key {key!r}: sampling settings cannot be swept")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep.{key}={values!r} must be a non-empty list")
        out[key] = [
            SCHEMA[section][name](f"sweep.{key}[{i}]", v) for i, v in enumerate(values)
        ]
    return out


def parse_override(text: str) -> tuple[str, Any]:
    """``section.key=value`` with a TOML value (bare words are read as strings)."""
    key, sep, raw = text.partition("=")
    if not sep or "." not in key:
        raise ConfigError(f"--set {text!r} must look like section.key=value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def load_config(
    source: str | None = None, overrides: tuple[str, ...] = ()
) -> RunConfig:
    """Load a TOML file, a named preset (``preset_names()``) or the default."""
    if source is None:
        text = preset_text("default")
    else:
        path = Path(source)
        if not path.suffix and not path.exists():
            text = preset_text(source)
        elif not path.exists():
            raise ConfigError(f"config file {source!r} does not exist")
        else:
            text = path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"{source or 'default config'} is not valid TOML: {err}"
        ) from None
    for item in overrides:
        key, value = parse_override(item)
        section, name = key.split(".", 1)
        if section == "sweep":
            data.setdefault("sweep", {})[name] = value
        else:
            data.setdefault(section, {})[name] = value
    return validate(data)


# ------------------------------------------------------------ runs that cannot succeed

PROBE_VALUES: dict[tuple[str, str], float] = {
    ("machine", "g"): 0.01,
    ("machine", "g1"): 0.01,
    ("machine", "g2"): 0.01,
    ("machine", "g3"): 0.01,
    ("baths", "T_A"): 1.0,
    ("baths", "T_B"): 1.0,
    ("baths", "p_A"): 1e-3,
    ("baths", "p_B"): 1e-3,
    ("baths", "Gamma_A"): 1e-3,
    ("baths", "Gamma_B"): 1e-3,
}
"""Generic nonzero values tried in place of keys set to 0 (``check_can_succeed``)."""


def check_can_succeed(config: RunConfig) -> None:
    """Refuse a config whose runs can only fail, before any work is done.

    Every grid point's model must build, and its exact steady state must be unique
    with p_suc = Tr[(Pi_A (x) Pi_B) rho] > 0 (Eq. 5). Otherwise the ConfigError names
    the keys set to 0 (couplings, rates, temperatures) any one of which, made
    nonzero, removes the problem (all of them if none does alone).
    """
    for i, point in enumerate(config.points()):
        problem = _failure(point)
        if problem is not None:
            where = f" (sweep point {i})" if config.sweep else ""
            raise ConfigError(f"{_responsible_keys(point)}{where}: {problem}")


def _failure(point: RunConfig) -> str | None:
    """Why every run of ``point`` must fail, or None if runs can succeed."""
    model = point.build_model()
    try:
        rho = steady_state(model)
    except NonUniqueSteadyStateError:
        return (
            "the steady state is not unique (the dynamics is not ergodic), so "
            "p_suc is undefined"
        )
    P = model.machine.filter.success_projector()
    if not np.real(np.trace(P @ rho)) > 0:
        return "the filter can never succeed (p_suc = 0 in the exact steady state)"
    return None


def _zero_keys(data: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(section, key, probe value) of the keys set to 0 that can be made nonzero."""
    out = []
    for section, key in PROBE_VALUES:
        value = data[section].get(key)
        if value is None:
            continue
        zero = parse_temperature(value) == 0 if key.startswith("T_") else value == 0
        if zero:
            out.append((section, key, PROBE_VALUES[section, key]))
    couplings = data["machine"].get("couplings")
    if couplings and 0 in couplings:
        out.append(("machine", "couplings", [c or 0.01 for c in couplings]))
    return out


def _responsible_keys(point: RunConfig) -> str:
    """The zero keys any one of which, changed alone, lets runs succeed."""
    data = point.to_dict()
    zeros = _zero_keys(data)
    fixes = [z for z in zeros if _fixed_by(data, *z)]
    named = [f"{s}.{k}={data[s][k]!r}" for s, k, _ in fixes or zeros]
    if not named:
        named = [f"machine.kind={data['machine']['kind']!r}"]
        named += [f"filter.{k}={v!r}" for k, v in data["filter"].items()]
    return ", ".join(named)


def _fixed_by(data: dict[str, Any], section: str, key: str, value: Any) -> bool:
    """Whether setting ``section.key = value`` alone lets runs succeed."""
    changed = copy.deepcopy(data)
    changed[section][key] = value
    try:
        return _failure(validate(changed)) is None
    except ValueError:
        return False
