"""Pre-flight: refuse, before any work, a config whose runs can only fail.

Every grid point's model must build, and its exact steady state must be unique with
p_suc = Tr[(Pi_A (x) Pi_B) rho] > 0 (Eq. 5); otherwise the error names the keys set
to 0 (couplings, rates, temperatures) any one of which, made nonzero, removes the
problem.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from trajectories.exact.states import NonUniqueSteadyStateError, steady_state
from trajectories.pipeline.config import RunConfig, validate
from trajectories.pipeline.schema import ConfigError
from trajectories.system.checks import parse_temperature

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
        named += [
            f"filter.{k}={v!r}" for k, v in data["filter"].items() if k != "target"
        ]
    return ", ".join(named)


def _fixed_by(data: dict[str, Any], section: str, key: str, value: Any) -> bool:
    """Whether setting ``section.key = value`` alone lets runs succeed."""
    changed = copy.deepcopy(data)
    changed[section][key] = value
    try:
        return _failure(validate(changed)) is None
    except ValueError:
        return False
