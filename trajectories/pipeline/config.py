"""Run configurations: TOML (or a named preset) -> a validated, frozen ``RunConfig``.

A config names only the keys it changes; every other key takes its default from
``schema.SCHEMA`` (the machine keys from the builders' signatures,
``schema.machine_defaults``). Sections and keys (``README.md`` documents them,
``python -m trajectories.run --help`` lists them with defaults and ranges):

    [machine]   kind, d, g, theta, eps, gaps, couplings, g3, lambdas, g1, g2, keep
    [baths]     model ("reset" | "lindblad"), T_A, T_B, p_A, p_B, Gamma_A, Gamma_B,
                dephasing
    [filter]    levels_A, levels_B (the kept levels; default: the machine's filter),
                target, target_phases (the target state of the fidelity)
    [protocol]  attempt_period, attempts, machines, restart ("thermal" | "steady")
    [sampling]  n_traj, batch_size, seed, initial ("steady" | "thermal" | "ground"),
                burn_in (default: 0 for steady, else 10 relaxation times)
    [sweep]     "section.key" = [values, ...]: a grid, one summary row per point

The resolved config (``RunConfig.to_dict``, recorded in the manifest) lists every
key with a value, defaults included; derived keys (couplings and gaps from g and eps,
the filter's levels and target phases from the machine, the burn-in) are absent.
Every error is a ``ConfigError`` naming the key, its value and the allowed range
(``schema``); ``preflight.check_can_succeed`` also refuses, before any work, a config
whose filter can never succeed or whose steady state is not unique.
"""

from __future__ import annotations

import copy
import itertools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from trajectories.exact.relaxation import default_burn_in
from trajectories.pipeline.schema import (
    MACHINE_KEYS,
    MODEL_KEYS,
    REQUIRED,
    SCHEMA,
    ConfigError,
    has_value,
    machine_defaults,
)
from trajectories.system import machines as presets
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


def preset_description(name: str) -> str:
    """The first comment line of a preset (its one-line description)."""
    for line in preset_text(name).splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


def preset_text(name: str) -> str:
    """The TOML text of a preset; ConfigError naming the presets if unknown."""
    path = PRESETS / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(
            f"unknown preset {name!r}; presets: {', '.join(preset_names())}"
        )
    return path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class ProtocolSettings:
    """[protocol]: filter every ``attempt_period``, ``attempts`` times, in banks of
    ``machines``; restart after a pair from ``restart``."""

    attempt_period: float
    attempts: int
    machines: int
    restart: str


@dataclass(frozen=True)
class SamplingSettings:
    """[sampling]: ``n_traj`` machines in batches of ``batch_size``, seed ``seed``;
    they start in ``initial`` ("steady", "thermal": tau_A (x) tau_B, "ground") and
    attempt first after ``burn_in`` + T (None: ``exact.relaxation.default_burn_in``,
    0 for a steady start, else ten relaxation times)."""

    n_traj: int
    batch_size: int
    seed: int
    initial: str
    burn_in: float | None = None


@dataclass(frozen=True)
class RunConfig:
    """A validated configuration, defaults filled in: the machine, bath and filter
    keys (as given to their builders), typed protocol and sampling settings, and the
    sweep grid.

    Validated once (``validate``); the grid points are validated with it and the
    batches receive them as they are."""

    machine: dict[str, Any]
    baths: dict[str, Any]
    filter: dict[str, Any]
    protocol: ProtocolSettings
    sampling: SamplingSettings
    sweep: dict[str, list[Any]]

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain data (for manifests)."""
        return copy.deepcopy(
            {
                "machine": self.machine,
                "baths": self.baths,
                "filter": self.filter,
                "protocol": asdict(self.protocol),
                "sampling": {
                    k: v for k, v in asdict(self.sampling).items() if v is not None
                },
                "sweep": self.sweep,
            }
        )

    def value(self, key: str) -> Any:
        """The setting ``section.key``."""
        section, name = key.split(".")
        part = getattr(self, section)
        return part[name] if isinstance(part, dict) else getattr(part, name)

    @cached_property
    def burn_in(self) -> float:
        """The burn-in in force: as set, or the default of ``initial``."""
        if self.sampling.burn_in is not None:
            return float(self.sampling.burn_in)
        return default_burn_in(self.build_model(), self.sampling.initial)

    def points(self) -> list[RunConfig]:
        """One configuration per point of the sweep grid (itself if no sweep)."""
        return list(self.grid)

    @cached_property
    def grid(self) -> tuple[RunConfig, ...]:
        """The grid points, each validated once."""
        if not self.sweep:
            return (self,)
        keys = list(self.sweep)
        out = []
        for values in itertools.product(*(self.sweep[k] for k in keys)):
            data = self.to_dict()
            data["sweep"] = {}
            for key, value in zip(keys, values, strict=True):
                section, name = key.split(".")
                data[section][name] = value
            out.append(validate(data))
        return tuple(out)

    def build_model(self) -> OpenSystem:
        """The machine, its filter and target (``machines.refilter``: a ``[filter]``
        override keeps the machine's target on its own levels, else the target of
        ``filter.target``) and the bath model described by this config."""
        kind = self.machine["kind"]
        kwargs = {k: v for k, v in self.machine.items() if k != "kind"}
        f = self.filter
        try:
            machine = presets.PRESETS[kind](**kwargs)
        except ValueError as err:
            raise ConfigError(f"[{kind} machine] {qualified(err, 'machine')}") from None
        try:
            machine = presets.refilter(
                machine,
                f.get("levels_A"),
                f.get("levels_B"),
                f["target"],
                f.get("target_phases"),
            )
        except ValueError as err:
            raise ConfigError(
                f"[filter of the {kind} machine] {qualified(err, 'filter')}"
            ) from None
        try:
            b = self.baths
            if b["model"] == "reset":
                return ResetModel(machine, b["p_A"], b["p_B"], b["T_A"], b["T_B"])
            return LindbladModel(
                machine, b["T_A"], b["T_B"], b["Gamma_A"], b["Gamma_B"], b["dephasing"]
            )
        except ConfigError:
            raise
        except ValueError as err:
            raise ConfigError(
                f"[{kind} machine / {self.baths['model']} model] "
                f"{qualified(err, 'baths')}"
            ) from None


def qualified(message: object, section: str) -> str:
    """``message`` with the keys of ``section`` it names (``key=``, ``key[``,
    ``key has``) written in full, ``section.key``."""
    names = "|".join(sorted(SCHEMA[section], key=len, reverse=True))
    return re.sub(
        rf"(?<![\w.])({names})(?=[=\[]| has )", rf"{section}.\1", str(message)
    )


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


def _defaults(section: str) -> dict[str, Any]:
    """The keys of a section that have a default value, with it."""
    return {
        k: v.default
        for k, v in SCHEMA[section].items()
        if v.default != REQUIRED and not v.derived
    }


def _resolve_machine(given: dict[str, Any]) -> dict[str, Any]:
    """kind, then every key of its builder: as given, else its default value;
    derived keys (a builder default of None) stay absent unless given."""
    kind = given.get("kind", SCHEMA["machine"]["kind"].default)
    extra = set(given) - {"kind"} - MACHINE_KEYS[kind]
    if extra:
        key = sorted(extra)[0]
        raise ConfigError(
            f"machine.{key}={given[key]!r} does not apply to kind={kind!r}; "
            f"allowed: {', '.join(sorted(MACHINE_KEYS[kind]))}"
        )
    out = {"kind": kind}
    for name, default in machine_defaults(kind).items():
        if name in given:
            out[name] = given[name]
        elif default == REQUIRED:
            raise ConfigError(
                f"machine.{name} is required for kind={kind!r} "
                f"({SCHEMA['machine'][name].allowed})"
            )
        elif has_value(kind, name):
            out[name] = default
    return out


def _resolve_baths(given: dict[str, Any]) -> dict[str, Any]:
    """model, T_A, T_B and the keys of the model: as given, else their defaults."""
    model = given.get("model", SCHEMA["baths"]["model"].default)
    wrong = set(given) - {"model", "T_A", "T_B"} - MODEL_KEYS[model]
    if wrong:
        key = sorted(wrong)[0]
        raise ConfigError(
            f"baths.{key}={given[key]!r} does not apply to model={model!r}; "
            f"allowed: T_A, T_B, {', '.join(sorted(MODEL_KEYS[model]))}"
        )
    keys = {"model", "T_A", "T_B"} | MODEL_KEYS[model]
    defaults = _defaults("baths") | {"model": model}
    return {k: given.get(k, v) for k, v in defaults.items() if k in keys}


def validate(data: Mapping[str, Any]) -> RunConfig:
    """Check every section and key of a parsed TOML document and fill in the
    defaults of the keys it does not name."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"a config must be a table of sections, got {data!r}")
    unknown = set(data) - set(SCHEMA) - {"sweep"}
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(
            f"unknown section [{key}]; allowed: {', '.join(SCHEMA)}, sweep"
        )
    given = {name: _check_section(name, data.get(name, {})) for name in SCHEMA}
    machine = _resolve_machine(given["machine"])
    baths = _resolve_baths(given["baths"])
    protocol = _defaults("protocol") | given["protocol"]
    sampling = _defaults("sampling") | given["sampling"]
    machines = protocol["machines"]
    for key in ("n_traj", "batch_size"):
        if sampling[key] % machines:
            raise ConfigError(
                f"sampling.{key}={sampling[key]} must be a multiple of "
                f"protocol.machines={machines} (banks are never split)"
            )
    return RunConfig(
        machine=machine,
        baths=baths,
        filter=_defaults("filter") | given["filter"],
        protocol=ProtocolSettings(**protocol),
        sampling=SamplingSettings(**sampling),
        sweep=_check_sweep(data.get("sweep", {}), machine["kind"], baths["model"]),
    )


SWEEP_FIXED = ("machine.kind", "baths.model")
"""Keys that cannot be swept (with [sampling]): each names the keys that apply."""


def _check_sweep(data: Any, kind: str, model: str) -> dict[str, list[Any]]:
    """The sweep axes: keys of the machine ``kind`` and the bath ``model``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"[sweep] must be a table, got {data!r}")
    out = {}
    for key, values in data.items():
        section, _, name = key.partition(".")
        if section not in SCHEMA or name not in SCHEMA[section]:
            raise ConfigError(f"sweep key {key!r} must name a setting as 'section.key'")
        if section == "sampling" or key in SWEEP_FIXED:
            raise ConfigError(
                f"sweep key {key!r} cannot be swept ({', '.join(SWEEP_FIXED)} and "
                "[sampling] are fixed in a run); run one config per value"
            )
        applies = {
            "machine": (f"kind={kind!r}", MACHINE_KEYS[kind]),
            "baths": (f"model={model!r}", {"T_A", "T_B"} | MODEL_KEYS[model]),
        }.get(section)
        if applies is not None and name not in applies[1]:
            raise ConfigError(
                f"sweep key {key!r} does not apply to {applies[0]}; "
                f"allowed: {', '.join(sorted(applies[1]))}"
            )
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep.{key}={values!r} must be a non-empty list")
        out[key] = [
            SCHEMA[section][name](f"sweep.{key}[{i}]", v) for i, v in enumerate(values)
        ]
    return out


def parse_override(text: str) -> tuple[str, Any]:
    """``section.key=value`` with a TOML value (bare words are read as strings)."""
    key, sep, raw = text.partition("=")
    if not sep or "." not in key or not all(key.strip().split(".")):
        raise ConfigError(f"--set {text!r} must look like section.key=value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def _config_text(source: str) -> str:
    """The text of a config file (or of the preset ``source``); a ConfigError saying
    plainly why a file cannot be read."""
    path = Path(source)
    if not path.suffix and not path.exists():
        return preset_text(source)
    where = f"config file {source!r}"
    if not path.exists():
        raise ConfigError(f"{where} does not exist")
    if path.is_dir():
        raise ConfigError(f"{where} is a directory, not a TOML file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{where} cannot be read ({err.strerror})") from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ConfigError(
            f"{where} is UTF-16 text; TOML files are UTF-8: save it as UTF-8"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{where} is not UTF-8 text (byte {data[err.start]:#04x} at offset "
            f"{err.start}); TOML files are UTF-8: save it as UTF-8"
        ) from None
    if not text.strip():
        raise ConfigError(
            f"{where} is empty; give no config (or the preset 'default') to run "
            "the default"
        )
    return text


def load_config(
    source: str | None = None, overrides: tuple[str, ...] = ()
) -> RunConfig:
    """Load a TOML file, a named preset (``preset_names()``) or the default."""
    text = preset_text("default") if source is None else _config_text(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"{source or 'default config'} is not valid TOML: {err}"
        ) from None
    return validate(apply_overrides(data, overrides))


def apply_overrides(data: dict[str, Any], overrides: tuple[str, ...]) -> dict[str, Any]:
    """``data`` with each ``--set section.key=value`` (``sweep.section.key=[...]``
    sets a sweep axis) applied."""
    for item in overrides:
        key, value = parse_override(item)
        section, name = key.split(".", 1)
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(
                f"--set {item}: [{section}] must be a table, got {table!r}"
            )
        table[name] = value
    return data


# ------------------------------------------------------------ runs that cannot succeed
