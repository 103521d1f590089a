"""Pre-flight: refuse, before the run directory exists, a config whose runs can only
fail.

For every grid point it computes what a batch computes before its first trajectory
(``batches.run_batch``): the machine and its model, the exact steady state and its
support, the burn-in, the start and restart states, the initial ensemble, the
schedule of attempts and the propagators of the unravelling. Runs can only fail if
one of these fails, if the steady state is not unique or p_suc = Tr[(Pi_A (x) Pi_B)
rho] = 0 in it (Eq. 5), or if a number overflows. The ConfigError names the keys
responsible: for a run that can never succeed, the keys set to 0 (couplings, rates,
temperatures) any one of which, made nonzero, removes the problem (all of them if
none does alone); for a computation that fails, the keys whose default removes it.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from trajectories.engine.initial_states import PureStateEnsemble
from trajectories.engine.propagation import needs_graded_propagation
from trajectories.engine.schedule import Schedule
from trajectories.engine.unravelling import Unravelling
from trajectories.exact.starts import restart_state, start_state
from trajectories.exact.states import NonUniqueSteadyStateError, steady_state
from trajectories.heralding.protocol import steady_estimate_options
from trajectories.pipeline.batches import RELAXATION_SAMPLES
from trajectories.pipeline.config import RunConfig, validate
from trajectories.pipeline.schema import (
    REQUIRED,
    SCHEMA,
    ConfigError,
    has_value,
    machine_defaults,
)
from trajectories.pipeline.states import state_support
from trajectories.system.checks import parse_temperature
from trajectories.system.models import OpenSystem

Status = Callable[[str], None]
"""Receives the step pre-flight is at (``check_can_succeed``)."""

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

NEVER, FAILS = "never", "fails"
"""The kinds of failure: runs that can never succeed, a computation that fails."""

DEFAULT = object()
"""Stands for "the key's default" (an absent key) in a trial change."""


def _silent(step: str) -> None:
    return None


def check_can_succeed(config: RunConfig, status: Status = _silent) -> None:
    """Refuse a config whose runs can only fail, before any work is done (module
    docstring): a ConfigError naming the responsible keys, the sweep point and why.
    ``status`` receives each step ("point i/N: computing the steady state")."""
    points = config.points()
    for i, point in enumerate(points):
        where = f" (sweep point {i})" if config.sweep else ""
        prefix = f"point {i + 1}/{len(points)}: " if config.sweep else ""
        try:
            failure = _failure(point, _prefixed(status, prefix))
        except ConfigError as err:
            raise ConfigError(f"{err}{where}") from None
        if failure is not None:
            kind, problem = failure
            raise ConfigError(f"{_responsible_keys(point, kind)}{where}: {problem}")


def _prefixed(status: Status, prefix: str) -> Status:
    def say(step: str) -> None:
        status(f"{prefix}{step}")

    return say


@contextmanager
def _overflow_raises() -> Iterator[None]:
    """numpy's overflow and invalid-value warnings raised as errors."""
    with warnings.catch_warnings():
        for text in ("overflow", "invalid value"):
            warnings.filterwarnings("error", text, RuntimeWarning)
        yield


def _failure(point: RunConfig, say: Status = _silent) -> tuple[str, str] | None:
    """(kind, why) if every run of ``point`` must fail, or None if runs can succeed.
    A ConfigError of the model's builders (which names its key) propagates."""
    with _overflow_raises():
        try:
            say("building the model")
            model = point.build_model()
            say("computing the exact steady state")
            rho = steady_state(model)
            P = model.machine.filter.success_projector()
            if not np.real(np.trace(P @ rho)) > 0:
                return NEVER, (
                    "the filter can never succeed (p_suc = 0 in the exact steady state)"
                )
            say("computing the burn-in, start states and propagators")
            _references(point, model, rho)
        except NonUniqueSteadyStateError:
            return NEVER, (
                "the steady state is not unique (the dynamics is not ergodic), so "
                "p_suc is undefined"
            )
        except ConfigError:
            raise
        except (ArithmeticError, ValueError, RuntimeWarning) as err:
            return FAILS, _why(err)
    return None


def _references(point: RunConfig, model: OpenSystem, rho: np.ndarray) -> None:
    """What ``run_batch`` computes before its first trajectory; ValueError or
    ArithmeticError if some of it cannot be computed."""
    burn_in, proto = point.burn_in, point.protocol
    if not math.isfinite(burn_in):
        raise OverflowError(f"the burn-in {burn_in} is not a finite time")
    last = burn_in + proto.attempt_period * proto.attempts
    if not math.isfinite(last):
        raise OverflowError(
            f"the last attempt time, burn-in + attempts x attempt_period = {last}, "
            "is not a finite number"
        )
    times = burn_in + proto.attempt_period * np.arange(1, proto.attempts + 1)
    if not np.all(np.diff(times, prepend=burn_in) > 0):
        raise ValueError(
            "the attempt times burn-in + k x attempt_period are not distinct in "
            "double precision (attempt_period is below the resolution of the burn-in)"
        )
    Schedule.build(
        float(times[-1]),
        attempt_times=times,
        **steady_estimate_options(burn_in, proto.attempt_period, RELAXATION_SAMPLES),
    )
    start = start_state(model, point.sampling.initial)
    restart_state(model, proto.restart)
    state_support(rho)
    PureStateEnsemble.of(start)
    graded = needs_graded_propagation(model, start, rho)
    Unravelling.from_model(model, True, "taylor" if graded else "eigen")
    if not (np.all(np.isfinite(rho)) and np.all(np.isfinite(start))):
        raise FloatingPointError("the steady or start state is not finite")


def _why(err: BaseException) -> str:
    """The reason a computation failed, in words."""
    if isinstance(err, RuntimeWarning):
        return f"a number overflows double precision ({err})"
    if isinstance(err, np.linalg.LinAlgError):
        return f"the linear algebra fails ({err})"
    return str(err)


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


def _default_of(data: dict[str, Any], section: str, key: str) -> Any:
    """The default of ``section.key`` (``DEFAULT``: none given, derived), or
    ``REQUIRED``."""
    if section == "machine":
        kind = data["machine"]["kind"]
        value = machine_defaults(kind)[key]
        return value if value == REQUIRED or has_value(kind, key) else DEFAULT
    spec = SCHEMA[section][key]
    return DEFAULT if spec.derived else spec.default


def _changed_keys(data: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(section, key, value) of the keys whose value is not their default, with
    their default, and with a probe value (``PROBE_VALUES``) where there is one."""
    out = []
    for section in ("machine", "baths", "filter", "protocol", "sampling"):
        for key, value in data[section].items():
            if key in ("kind", "model", "seed", "n_traj", "batch_size"):
                continue
            default = _default_of(data, section, key)
            if default != REQUIRED and value != default:
                out.append((section, key, default))
                if (section, key) in PROBE_VALUES:
                    out.append((section, key, PROBE_VALUES[section, key]))
    return out


def _responsible_keys(point: RunConfig, kind: str) -> str:
    """The keys any one of which, changed alone, lets runs succeed: the zero keys
    made nonzero (for runs that can never succeed, ``NEVER``) and the other changed
    keys set back to their defaults or to a probe value; if none does, every zero
    key (every changed key for a failing computation)."""
    data = point.to_dict()
    zeros = _zero_keys(data) if kind == NEVER else []
    zero_names = {(s, k) for s, k, _ in zeros}
    changed = [t for t in _changed_keys(data) if t[:2] not in zero_names]
    fixes = [t for t in zeros + changed if _fixed_by(data, *t)]
    keys = dict.fromkeys(t[:2] for t in fixes or zeros or changed)
    named = [f"{s}.{k}={data[s][k]!r}" for s, k in keys]
    if not named:
        named = [f"machine.kind={data['machine']['kind']!r}"]
        named += [
            f"filter.{k}={v!r}" for k, v in data["filter"].items() if k != "target"
        ]
    return ", ".join(named)


def _fixed_by(data: dict[str, Any], section: str, key: str, value: Any) -> bool:
    """Whether setting ``section.key = value`` (``DEFAULT``: removing it) alone lets
    runs succeed."""
    changed = copy.deepcopy(data)
    if value is DEFAULT:
        changed[section].pop(key)
    else:
        changed[section][key] = value
    try:
        return _failure(validate(changed)) is None
    except ValueError:
        return False
