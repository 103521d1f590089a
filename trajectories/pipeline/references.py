"""The exact references of one grid point, shared by the summary and the report.

The machines start in ``initial`` and attempt first at b + T (b the burn-in): the
first attempt sees e^{L(b + T)} rho_0 and the attempts follow the law of K started
from e^{L b} rho_0 (both the steady state for a steady start).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.waiting_times import any_success_probability
from trajectories.exact.attempt_laws import AttemptsLaw, attempts_pmf
from trajectories.exact.starts import start_density
from trajectories.exact.states import Herald, evolve, herald, steady_state
from trajectories.heralding.measures import reported_measures
from trajectories.pipeline.config import RunConfig
from trajectories.system.models import OpenSystem


@dataclass(frozen=True, eq=False)
class PointReference:
    """The model, its steady state, the state after the burn-in, the filter
    statistics at the first attempt and the law of K of one grid point."""

    model: OpenSystem
    rho_ss: NDArray[np.complex128]
    rho_0: NDArray[np.complex128]
    first: Herald
    law: AttemptsLaw

    @classmethod
    def of(cls, point: RunConfig) -> PointReference:
        """The references of ``point``."""
        model = point.build_model()
        rho_ss = steady_state(model)
        if point.sampling.initial == "steady":
            rho_0 = first = rho_ss
        else:
            start = start_density(model, point.sampling.initial)
            b, T = point.burn_in, point.protocol.attempt_period
            rho_0, first = evolve(model, start, [b, b + T])
        proto = point.protocol
        law = attempts_pmf(model, proto.attempt_period, proto.attempts, rho_0)
        return cls(model, rho_ss, rho_0, herald(first, model.machine.filter), law)

    @property
    def mean_attempts(self) -> float:
        """E[K | K <= attempts]."""
        pmf = self.law.pmf
        return float(np.arange(1, pmf.size + 1) @ pmf / pmf.sum())

    def summary(self, point: RunConfig) -> dict[str, Any]:
        """The exact values of the summary quantities (the sweep curves)."""
        T, n = point.protocol.attempt_period, point.protocol.machines
        rho = self.first.rho_post
        return {
            "p_suc": self.first.p_suc,
            **reported_measures(self.model.machine, rho),
            "mean_attempts": self.mean_attempts,
            "mean_wait": T * self.mean_attempts,
            "censored": self.law.tail,
            "bank_round_success": float(any_success_probability(self.law.pmf[0], n)),
        }
