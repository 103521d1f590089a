"""The measures reported for the post-selected state rho' (Eq. 5) of a machine.

Negativity (in signed form, smooth through the PPT boundary), purity, fidelity to the
machine's target, and for two kept qubits the CHSH value (and concurrence); with the
range of each, the scale of a sample's resolution.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from numpy.typing import NDArray

from analysis.measures import (
    chsh_max,
    fidelity,
    purity,
    signed_concurrence,
    signed_negativity,
)
from trajectories.system.machine import Machine

CLIPPED_MEASURES = ("negativity", "concurrence")
"""Measures given in signed form by ``post_selected_measures`` (report max(0, .))."""


def post_selected_measures(
    machine: Machine, with_concurrence: bool = False
) -> dict[str, Callable[[NDArray], float]]:
    """Negativity (signed form, see ``CLIPPED_MEASURES``) and purity of rho',
    fidelity to the target (if any), and CHSH (and optionally the signed
    concurrence) when the filter keeps two qubits."""
    dims = machine.filter.kept_dims
    out: dict[str, Callable[[NDArray], float]] = {
        "negativity": lambda r: signed_negativity(r, dims),
        "purity": purity,
    }
    if machine.target is not None:
        target = machine.target
        out["fidelity"] = lambda r: fidelity(r, target)
    if dims == (2, 2):
        out["chsh"] = chsh_max
        if with_concurrence:
            out["concurrence"] = signed_concurrence
    return out


def measure_ranges(machine: Machine) -> dict[str, float]:
    """The range of each measure of rho' (max - min over states): the scale of the
    sample's resolution in ``quality_table``."""
    d = min(machine.filter.kept_dims)
    return {
        "negativity": (d - 1) / 2,
        "purity": 1.0,
        "fidelity": 1.0,
        "chsh": 2 * math.sqrt(2),
        "concurrence": 1.0,
    }


def reported_measures(machine: Machine, rho: NDArray) -> dict[str, float]:
    """The measures of a given rho' as reported (the signed ones clipped at 0)."""
    return {
        name: max(f(rho), 0.0) if name in CLIPPED_MEASURES else f(rho)
        for name, f in post_selected_measures(machine).items()
    }
