"""Heralded entanglement from quantum thermal machines: exact references and fast
stochastic unravellings.

The data flow, and the one-way layering of the sub-packages (a module imports only
from its own layer's modules and from lower layers; ``analysis/`` holds pure array
functions and imports nothing of ``trajectories``; no import inside a function but
the few that ``tests/test_layout.py`` lists with their reasons):

1. ``system``      what is simulated: machines, baths, filters, models, states
2. ``exact``       the references: steady states, e^{Lt}, herald (p_suc, rho'),
                   named starts, laws of the heralding protocol
3. ``engine``      the trajectories: kernels and the event loop on arrays (imports
                   ``system`` only: initial states arrive as arrays)
4. ``simulation``  the engine started from a named state
5. ``heralding``   filter outcomes sampled per run: tables and estimates
6. ``validation``  estimates against exact values: z-scores, coverage
7. ``pipeline``    config, batches, run directory, summary, report, command line
8. ``run``, ``report``  entry points of ``python -m trajectories.run`` / ``.report``

``paper`` (the paper's closed forms and the studies beyond it) sits beside
``validation``: it may use layers 1-2. The names below are imported from their
modules on first use, not by ``import trajectories``.

Examples
--------
>>> from trajectories import ResetModel, qutrit, steady_state, herald
>>> model = ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01)
>>> round(herald(steady_state(model), model.machine.filter).p_suc, 6)
0.048309

QuTiP objects go in wherever a state or an operator does (dims checked against the
machine), and come out with ``as_qobj=True``, ``Herald.qobj()`` or ``to_qobj``;
``Machine.from_qutip(H_A, H_B, H_int, ...)`` builds a machine from QuTiP operators.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trajectories.engine.ensemble import Ensemble
    from trajectories.exact.attempt_laws import attempts_pmf
    from trajectories.exact.optimal_period import optimal_attempt_period
    from trajectories.exact.starts import start_state
    from trajectories.exact.states import Herald, evolve, herald, steady_state
    from trajectories.heralding.protocol import run_heralding
    from trajectories.heralding.results import HeraldingRun
    from trajectories.simulation import simulate
    from trajectories.system.filters import Filter
    from trajectories.system.machine import Machine, Transition
    from trajectories.system.machines import (
        one_step,
        qubit_qubit,
        qubit_qutrit,
        qudit,
        qutrit,
        schmidt,
    )
    from trajectories.system.models import LindbladModel, ResetModel
    from trajectories.system.qobj import to_qobj

try:
    __version__ = version("trajectories")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

_HOMES = {
    "trajectories.engine.ensemble": ("Ensemble",),
    "trajectories.exact.attempt_laws": ("attempts_pmf",),
    "trajectories.exact.optimal_period": ("optimal_attempt_period",),
    "trajectories.exact.starts": ("start_state",),
    "trajectories.exact.states": ("Herald", "evolve", "herald", "steady_state"),
    "trajectories.heralding.protocol": ("run_heralding",),
    "trajectories.heralding.results": ("HeraldingRun",),
    "trajectories.simulation": ("simulate",),
    "trajectories.system.filters": ("Filter",),
    "trajectories.system.machine": ("Machine", "Transition"),
    "trajectories.system.machines": (
        "one_step",
        "qubit_qubit",
        "qubit_qutrit",
        "qudit",
        "qutrit",
        "schmidt",
    ),
    "trajectories.system.models": ("LindbladModel", "ResetModel"),
    "trajectories.system.qobj": ("to_qobj",),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}
"""The module of each top-level name. The names load on first use (PEP 562), so
that ``python -m trajectories.run`` starts its local workers before the ~0.7 s of
imports a run needs (``pipeline.early_workers``)."""

__all__ = [
    "Ensemble",
    "Filter",
    "Herald",
    "HeraldingRun",
    "LindbladModel",
    "Machine",
    "ResetModel",
    "Transition",
    "__version__",
    "attempts_pmf",
    "evolve",
    "herald",
    "one_step",
    "optimal_attempt_period",
    "qubit_qubit",
    "qubit_qutrit",
    "qudit",
    "qutrit",
    "run_heralding",
    "schmidt",
    "simulate",
    "start_state",
    "steady_state",
    "to_qobj",
]


def __getattr__(name: str) -> Any:
    """A top-level name, imported from its module on first use."""
    if name not in _HOME:
        raise AttributeError(f"module 'trajectories' has no attribute {name!r}")
    value = getattr(import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
