"""How fast a machine relaxes: the Liouvillian gap and the relaxation time.

States that start diagonal (thermal, ground) stay in the reduced space of matrix
elements the generator feeds from the populations (``liouvillian.reachable_support``,
App. B, C), where the Liouvillian is small: its eigenvalues other than the steady
state's 0 have real parts -Re(lambda) >= gap > 0, and every observable approaches its
steady value at least as fast as e^{-gap t}. The relaxation time is 1/gap.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as la

from trajectories.system.liouvillian import diagonal_indices, reachable_support
from trajectories.system.models import OpenSystem

BURN_IN_RELAXATION_TIMES = 10.0
"""Default burn-in of a run away from the steady state, in relaxation times: the
initial deviation decays by e^-10 = 4.5e-5 (or faster)."""


def liouvillian_gap(model: OpenSystem) -> float:
    """The smallest decay rate -Re(lambda) > 0 of the Liouvillian on the elements
    reachable from the populations (the spectral gap seen by diagonal starts)."""
    D = model.machine.dim
    L = model.liouvillian(True)
    support = reachable_support(L, diagonal_indices(D))
    rates = -la.eigvals(L[support][:, support].toarray()).real
    scale = max(float(np.abs(rates).max()), 1e-300)
    positive = rates[rates > 1e-10 * scale]
    return float(positive.min()) if positive.size else math.inf


def relaxation_time(model: OpenSystem) -> float:
    """1 / ``liouvillian_gap``."""
    return 1.0 / liouvillian_gap(model)


def default_burn_in(model: OpenSystem, initial: str) -> float:
    """0 for a run that starts in the steady state, else ``BURN_IN_RELAXATION_TIMES``
    relaxation times."""
    if initial == "steady":
        return 0.0
    return BURN_IN_RELAXATION_TIMES * relaxation_time(model)
