"""``simulate``: the trajectory engine started from a named state or a given one.

Resolves ``initial`` ("steady", the exact steady state; "thermal", tau_A (x) tau_B;
"ground"; or a state vector / density matrix) with the exact layer, chooses the
propagation (graded Taylor where the start or the steady state spans more than the
eigenbasis resolves), and runs ``engine.ensemble.run_ensemble``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from numpy.typing import ArrayLike, NDArray

from trajectories.engine.ensemble import Ensemble, run_ensemble
from trajectories.engine.propagation import needs_graded_propagation
from trajectories.exact.starts import start_state
from trajectories.exact.states import NonUniqueSteadyStateError, steady_state
from trajectories.system.models import OpenSystem

if TYPE_CHECKING:
    from qutip import Qobj


def simulate(
    model: OpenSystem,
    *,
    initial: str | ArrayLike | Qobj = "steady",
    propagator: str = "auto",
    **options: Any,
) -> Ensemble:
    """Simulate trajectories of ``model`` from ``initial`` (default: the steady
    state, so that no burn-in is needed; or a state vector or density matrix, arrays
    or ``qutip.Qobj``); ``options`` are those of ``run_ensemble`` (n_traj, rng, t_max,
    sample_times, burn_in, n_windows, observables (arrays or Qobjs), ...).

    Examples
    --------
    >>> import numpy as np
    >>> from trajectories.system.machines import qutrit
    >>> from trajectories.system.models import ResetModel
    >>> model = ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01)
    >>> ens = simulate(model, n_traj=200, rng=np.random.default_rng(1), t_max=100.0,
    ...                sample_times=[100.0])
    >>> ens.n_traj, ens.density(0)[0].shape
    (200, (9, 9))
    """
    rho_0 = start_state(model, initial)
    if propagator == "auto":
        graded = needs_graded_propagation(model, rho_0, steady_reference(model))
        propagator = "taylor" if graded else "eigen"
    return run_ensemble(model, initial=rho_0, propagator=propagator, **options)


def steady_reference(model: OpenSystem) -> NDArray | None:
    """The steady state, or None where it is not unique."""
    try:
        return steady_state(model)
    except NonUniqueSteadyStateError:
        return None
