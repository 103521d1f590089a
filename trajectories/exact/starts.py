"""Named start states of a machine: the exact steady state or a product state.

``start_state(model, "steady" | "thermal" | "ground" | array)`` resolves what the
heralding protocol and ``simulate`` start from (or restart from after a pair); an
array (or ``qutip.Qobj``, dims checked against the machine) is checked by the one
state validator (``system.states.check_state``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trajectories.exact.states import steady_state
from trajectories.system.models import OpenSystem
from trajectories.system.states import check_state, ground_start, thermal_start

STARTS = ("steady", "thermal", "ground")
"""Named start states."""

RESTARTS = ("thermal", "steady")
"""Valid restart states after a delivered pair."""


def start_state(
    model: OpenSystem, state: str | ArrayLike, name: str = "initial"
) -> NDArray[np.complex128]:
    """The named state as a (D, D) density matrix, or a given state vector (D,) or
    density matrix (D, D) (arrays or Qobjs of the machine's dims), validated."""
    if isinstance(state, str):
        if state == "steady":
            return steady_state(model)
        if state == "thermal":
            return thermal_start(model)
        if state == "ground":
            return ground_start(model)
        raise ValueError(
            f"{name}={state!r} must be one of {STARTS}, a state vector or a density "
            "matrix"
        )
    return check_state(state, model.machine.dims, name)


def start_density(
    model: OpenSystem, state: str | ArrayLike | None, name: str = "rho_0"
) -> NDArray[np.complex128]:
    """``start_state`` as a density matrix; None means the steady state."""
    rho = start_state(model, "steady" if state is None else state, name)
    return np.outer(rho, rho.conj()) if rho.ndim == 1 else rho


def check_restart(restart: object) -> str:
    """``restart`` if it names a restart state (``RESTARTS``)."""
    if restart not in RESTARTS:
        raise ValueError(f"restart={restart!r} must be one of {RESTARTS}")
    return str(restart)


def restart_state(
    model: OpenSystem, restart: str = "thermal"
) -> NDArray[np.complex128]:
    """The state (D, D) a machine restarts from after delivering a pair:
    ``"thermal"`` (tau_A (x) tau_B) or ``"steady"``."""
    return start_state(model, check_restart(restart), "restart")
