"""Shared fixtures and helpers for the test suite.

Measured false-alarm rate of the whole suite: 7.6e-3 per change of random stream,
95% upper bound 0.53 (63 stochastic checks, 45 seeds each, no failure; `python
examples/seed_scan.py --seeds 45 --first-seed 2000000`; the table per check and the
method are in tests/README.md).
"""

from __future__ import annotations

import math

import pytest

from trajectories.system.machines import qutrit
from trajectories.system.models import LindbladModel, ResetModel


@pytest.fixture
def qutrit_reset() -> ResetModel:
    """The default two-qutrit machine in the reset model, maximal gradient."""
    return ResetModel(
        qutrit(g=0.01, theta=0.3), p_A=0.002, p_B=0.01, T_A=math.inf, T_B=0.0
    )


def fig5b_model() -> LindbladModel:
    """The Lindblad model of Fig. 5(b) at T_A = 3, T_B = 0.2."""
    return LindbladModel(
        qutrit(g=1.6e-3, eps=3.0),
        T_A=3.0,
        T_B=0.2,
        Gamma_A=1e-4,
        Gamma_B=5e-3,
        dephasing=3.5e-5,
    )


@pytest.fixture
def qutrit_lindblad() -> LindbladModel:
    """The Lindblad model of Fig. 5(b) at one temperature pair."""
    return fig5b_model()


SMALL_RUN = [
    "--quiet",
    "--set",
    "sampling.n_traj=800",
    "--set",
    "sampling.batch_size=200",
    "--set",
    "protocol.attempts=15",
]
"""Command-line options of a small run (800 machines, 15 attempts)."""


OBSERVED_COMMAND = """
import gc, importlib.abc, importlib.util, runpy, sys
HOOKS

class Observer(importlib.abc.MetaPathFinder):  # MODULE, observed as it loads
    def find_spec(self, name, path, target=None):
        if name != "MODULE":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        load = spec.loader.exec_module
        def exec_module(module):
            before(module)
            load(module)
            after(module)
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, Observer())
sys.argv = ["COMMAND", *sys.argv[1:]]
runpy.run_module("COMMAND", run_name="__main__")
"""


def observed_command(command: str, module: str, hooks: str) -> str:
    """Code for ``python -c`` that runs ``python -m command`` (arguments after the
    code), calling ``before(m)`` and ``after(m)`` (defined by ``hooks``) around the
    loading of ``module`` (imported by the command)."""
    return (
        OBSERVED_COMMAND.replace("HOOKS", hooks)
        .replace("MODULE", module)
        .replace("COMMAND", command)
    )
