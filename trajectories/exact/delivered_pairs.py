"""The pairs the heralding protocol delivers (Sec. II): their state and their rate.

A success delivers the pair V^dag S(rho) V (normalised, relabelled filtered subspace)
and restarts the machine from ``restart`` ("thermal": tau_A (x) tau_B, or "steady");
the cycles between pairs renew, so the long-run rate per machine is 1 / (T E[K']),
K' the number of attempts from the restart state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trajectories.exact.attempt_chain import attempt_chain
from trajectories.exact.starts import check_restart
from trajectories.system.checks import check_int
from trajectories.system.models import OpenSystem
from trajectories.system.qobj import to_qobj

if TYPE_CHECKING:
    from qutip import Qobj


def delivered_state(
    model: OpenSystem,
    attempt_period: float,
    k: int | None = None,
    restart: str = "thermal",
    rho_0: ArrayLike | str | None = None,
    *,
    as_qobj: bool = False,
) -> NDArray[np.complex128] | Qobj:
    """The delivered pair (relabelled filtered subspace, normalised; a Qobj with
    dims [[k_A, k_B], [k_A, k_B]] with ``as_qobj``).

    The cycle starts from ``rho_0`` (default: the ``restart`` state). ``k=None``: the
    long-run average, sum_k V^dag S E (F E)^{k-1} rho_0 V normalised; an integer
    ``k``: the pair conditioned on the success happening at attempt k.
    """
    restart = check_restart(restart)
    if k is not None:
        k = check_int(k, "k")
    start = restart if rho_0 is None else rho_0
    rho = attempt_chain(model, attempt_period, start).delivered(k)
    return to_qobj(rho, model.machine.filter.kept_dims) if as_qobj else rho


def pair_rate(
    model: OpenSystem, attempt_period: float, restart: str = "thermal"
) -> float:
    """Long-run delivered pairs per machine per unit time, 1 / (T E[K'])."""
    chain = attempt_chain(model, attempt_period, check_restart(restart))
    return 1.0 / (chain.T * chain.moments().mean)
