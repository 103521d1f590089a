"""What the command line says about itself, generated from the schema and the
presets: the ``--help`` epilog (presets, config keys with defaults and ranges, sweep
syntax, exit codes), ``--list-presets`` and ``--show-config`` (the resolved config as
TOML that loads back to the same config, derived values as comments).
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from typing import Any

import numpy as np

from trajectories.pipeline.config import (
    SWEEP_FIXED,
    RunConfig,
    preset_description,
    preset_names,
)
from trajectories.pipeline.exit_codes import EXIT_CODES
from trajectories.pipeline.schema import (
    DERIVED_MACHINE_KEYS,
    MACHINE_KEYS,
    MODEL_KEYS,
    REQUIRED,
    SCHEMA,
    machine_defaults,
)
from trajectories.system import machines as presets

WIDTH = 26
"""Column of the allowed ranges in the key listing."""
LINE = 88
"""Width of the help text."""
NBSP = "\xa0"


def _wrap(text: str, indent: int, hanging: int) -> list[str]:
    """``text`` wrapped to ``LINE`` columns, never inside ``key = value`` nor a
    bracketed range."""
    text = re.sub(r"\[[^\]]*\]|\S+ = \S+", lambda m: m[0].replace(" ", NBSP), text)
    lines = textwrap.wrap(
        text,
        LINE,
        initial_indent=" " * indent,
        subsequent_indent=" " * hanging,
        break_on_hyphens=False,
    )
    return [line.replace(NBSP, " ") for line in lines]


def _entry(head: str, text: str, indent: int = 4) -> list[str]:
    """``head`` padded to ``WIDTH``, then ``text`` wrapped under itself."""
    lines = _wrap(f"{head:<{WIDTH}}".replace(" ", NBSP) + text, indent, indent + WIDTH)
    return [line.replace(NBSP, " ") for line in lines]


def toml_value(value: Any) -> str:
    """A TOML literal of a config value (str, int, float or a list of them).

    >>> toml_value([0.1, 2, "inf"])
    '[0.1, 2, "inf"]'
    """
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, complex | np.complexfloating):
        value = value.real if value.imag == 0 else str(value)
        return toml_value(value)
    if isinstance(value, float | np.floating):
        return repr(float(value)) if math.isfinite(value) else str(float(value))
    return str(int(value))


def _toml_key(name: str) -> str:
    return name if name.replace("_", "").isalnum() else json.dumps(name)


def list_presets() -> str:
    """One line per preset: its name and description (the first comment line)."""
    names = preset_names()
    pad = max(map(len, names)) + 2
    return "\n".join(f"{n:<{pad}}{preset_description(n)}" for n in names)


def _derived_values(config: RunConfig) -> dict[str, dict[str, Any]]:
    """The values of the derived keys (absent from the config) of ``config``."""
    machine = config.build_model().machine
    out: dict[str, dict[str, Any]] = {"machine": {}, "filter": {}, "sampling": {}}
    for name in DERIVED_MACHINE_KEYS:
        if name in MACHINE_KEYS[config.machine["kind"]] and name not in config.machine:
            out["machine"][name] = list(machine.params[name])
    levels = machine.filter.levels()
    for side, kept in zip(("levels_A", "levels_B"), levels or (), strict=False):
        if side not in config.filter:
            out["filter"][side] = kept
    phases = presets.target_phases(machine)
    if "target_phases" not in config.filter and phases is not None:
        out["filter"]["target_phases"] = [p + 0.0 for p in phases]
    if config.sampling.burn_in is None:
        out["sampling"]["burn_in"] = config.burn_in
    return out


def show_config(config: RunConfig) -> str:
    """The resolved config as TOML, every key with a value; derived keys as
    comments with the values they take (before any sweep is applied)."""
    data = config.to_dict()
    derived = _derived_values(config)
    lines = [
        "# The resolved config: every key with its value, defaults included.",
        "# Commented keys are derived from the others (set them to override).",
        "",
    ]
    if config.sweep:
        lines.insert(2, "# The derived values are those before the sweep is applied.")
    for section in (*SCHEMA, "sweep"):
        values = data[section]
        if section == "sweep" and not values:
            continue
        lines.append(f"[{section}]")
        for name, value in values.items():
            lines.append(f"{_toml_key(name)} = {toml_value(value)}")
        for name, value in derived.get(section, {}).items():
            lines.append(f"# {name} = {toml_value(value)}   (derived)")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _show_default(value: Any) -> str:
    if value == REQUIRED:
        return "(required)"
    if value in DERIVED_MACHINE_KEYS.values():
        return "(derived)"
    return f"= {toml_value(value)}"


def _machine_lines() -> list[str]:
    lines = ["  [machine]"]
    key = SCHEMA["machine"]["kind"]
    lines += _entry(f"kind = {toml_value(key.default)}", key.allowed)
    lines.append("    the keys of each kind, with the defaults of its builder:")
    for kind in presets.PRESETS:
        shown = [f"{n} {_show_default(v)}" for n, v in machine_defaults(kind).items()]
        lines += _wrap(f"{kind}: {', '.join(shown)}", 6, 8)
    for name, text in DERIVED_MACHINE_KEYS.items():
        lines += _wrap(f"derived {name}: {text}", 6, 8)
    for name, key in SCHEMA["machine"].items():
        if name != "kind":
            lines += _entry(name, f"{key.doc}: {key.allowed}")
    return lines


def _section_lines(section: str) -> list[str]:
    lines = [f"  [{section}]"]
    for name, key in SCHEMA[section].items():
        if key.derived:
            head = f"{name} (derived)"
            text = f"{key.doc}: {key.allowed}; default: {key.derived}"
        else:
            head = f"{name} {_show_default(key.default)}"
            text = f"{key.doc}: {key.allowed}"
        lines += _entry(head, text)
    if section == "baths":
        for model, keys in MODEL_KEYS.items():
            lines.append(f"    model {model!r} takes {', '.join(sorted(keys))}")
    return lines


def help_epilog() -> str:
    """The ``--help`` epilog: presets, config keys, sweep syntax, exit codes."""
    lines = ["presets (python -m trajectories.run PRESET; --list-presets):"]
    pad = max(map(len, preset_names())) + 2
    for name in preset_names():
        lines += _wrap(f"{name:<{pad}}{preset_description(name)}", 2, 2 + pad)
    lines += [
        "",
        "config keys (a TOML file names only the keys it changes; every other key "
        "takes",
        "its default; --show-config prints the resolved config):",
    ]
    lines += _machine_lines()
    for section in SCHEMA:
        if section != "machine":
            lines += _section_lines(section)
    fixed = ", ".join(SWEEP_FIXED)
    lines += [
        "",
        "sweep (a grid over the product of the axes; one summary row per point and a",
        "table of all points at the end):",
        '  [sweep]  "baths.p_A" = [0.001, 0.002]    in a config file',
        "  --set sweep.machine.g=[0.01,0.02]       on the command line",
        "  axes: any key that applies to the machine kind and the bath model, but",
        f"  {fixed} and [sampling]",
        "",
        "exit codes:",
    ]
    for code, text in EXIT_CODES.items():
        lines += _wrap(f"{code}  {text}", 2, 5)
    return "\n".join(lines)
