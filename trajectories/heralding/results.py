"""Results of the heralding protocol: tidy tables and sample estimates.

Per-run estimates use the first attempt of every machine (independent machines, each
seeing the state e^{LT} rho_0; the steady state when the machines start there):
p_suc from the sampled outcomes and from the Born probabilities, rho' (Eq. 5) as a
ratio estimator with delete-one-group jackknife errors, and the attempts until a
success (K from rho_0, K' between pairs, R of a bank). Their exact counterparts are
compared in ``validation/heralding.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.heralding_stats import post_selected_state, ratio_groups
from analysis.waiting_times import (
    bank_first_success_round,
    first_success_attempts,
    next_cycle_attempts,
)
from trajectories.engine.ensemble import Ensemble
from trajectories.heralding.measures import post_selected_measures
from trajectories.heralding.recorder import AttemptRecorder
from trajectories.system.models import OpenSystem
from trajectories.system.qobj import to_qobj


@dataclass(frozen=True, eq=False)
class HeraldingRun:
    """A finished heralding simulation (see ``heralding.run_heralding``)."""

    model: OpenSystem
    attempt_period: float
    n_machines: int
    burn_in: float
    initial: NDArray[np.complex128]
    restart: str
    recorder: AttemptRecorder
    ensemble: Ensemble

    @property
    def attempt_times(self) -> NDArray[np.float64]:
        """The attempt times b + k T, k = 1..n_attempts (b the burn-in)."""
        return self.burn_in + self.attempt_period * np.arange(1, self.n_attempts + 1)

    @property
    def n_traj(self) -> int:
        """Number of machines simulated."""
        return int(self.recorder.outcome.shape[0])

    @property
    def n_attempts(self) -> int:
        """Attempts per machine."""
        return int(self.recorder.outcome.shape[1])

    @cached_property
    def success(self) -> NDArray[np.bool_]:
        """(n_traj, n_attempts) success flags."""
        return self.recorder.outcome == 0

    @cached_property
    def since_restart(self) -> NDArray[np.int64]:
        """(n_traj, n_attempts): attempts since the last restart (or start), 1-based."""
        j = np.arange(self.n_attempts)
        last = np.where(self.success, j, -1)
        prev = np.concatenate(
            [
                np.full((self.n_traj, 1), -1),
                np.maximum.accumulate(last, axis=1)[:, :-1],
            ],
            axis=1,
        )
        return j - prev

    def attempts_table(self) -> pd.DataFrame:
        """One row per attempt: trajectory, machine, bank, attempt (1-based), time,
        outcome_A, outcome_B, success, born_p_suc, k (attempts since the last
        restart)."""
        n, A = self.n_traj, self.n_attempts
        traj = np.repeat(np.arange(n), A)
        code = self.recorder.outcome.ravel()  # OUTCOMES index: 2 fail_A + fail_B
        sides = ["pass", "fail"]
        return pd.DataFrame(
            {
                "trajectory": traj,
                "machine": traj % self.n_machines,
                "bank": traj // self.n_machines,
                "attempt": np.tile(np.arange(1, A + 1), n),
                "time": np.tile(self.attempt_times, n),
                "outcome_A": pd.Categorical.from_codes(code // 2, categories=sides),
                "outcome_B": pd.Categorical.from_codes(code % 2, categories=sides),
                "success": code == 0,
                "born_p_suc": self.recorder.born.ravel().astype(float),
                "k": self.since_restart.ravel(),
            }
        )

    def pairs_table(self) -> pd.DataFrame:
        """One row per delivered pair: trajectory, machine, bank, attempt, time, k
        (attempts it took since the last restart), wait (k T), fidelity to the
        machine's target (NaN without one)."""
        if self.recorder.pairs:
            ids, idx, states = (
                np.concatenate(x) for x in zip(*self.recorder.pairs, strict=True)
            )
        else:
            ids, idx = np.zeros(0, int), np.zeros(0, int)
            states = np.zeros((0, self.recorder.V.shape[1]), complex)
        order = np.lexsort((idx, ids))
        ids, idx, states = ids[order], idx[order], states[order]
        target = self.model.machine.target
        fid = (
            np.abs(states @ target.conj()) ** 2
            if target is not None
            else np.full(ids.size, np.nan)
        )
        k = self.since_restart[ids, idx]
        return pd.DataFrame(
            {
                "trajectory": ids,
                "machine": ids % self.n_machines,
                "bank": ids // self.n_machines,
                "attempt": idx + 1,
                "time": self.attempt_times[idx],
                "k": k,
                "wait": self.attempt_period * k,
                "fidelity": fid,
            }
        )

    def runs_table(self) -> pd.DataFrame:
        """One row per machine: trajectory, first_born, first_success, the first
        success branch phi (phi_re_i, phi_im_i), and jump counts per bath."""
        phi = self.recorder.first_state
        cols = {
            "trajectory": np.arange(self.n_traj),
            "first_born": self.recorder.first_born,
            "first_success": self.success[:, 0],
        }
        for i in range(phi.shape[1]):
            cols[f"phi_re_{i}"] = phi[:, i].real
            cols[f"phi_im_{i}"] = phi[:, i].imag
        counts = self.ensemble.counts()
        for bath in ("A", "B"):
            names = [c for c in counts.columns if c.startswith(f"{bath}:")]
            cols[f"n_jumps_{bath}"] = counts[names].sum(axis=1).to_numpy()
        return pd.DataFrame(cols)

    def post_selected(
        self, estimator: str = "born", n_groups: int = 50, as_qobj: bool = False
    ) -> tuple[Any, NDArray]:
        """rho' (relabelled subspace) and its jackknife SE (se_re + 1j se_im); with
        ``as_qobj`` rho' is a Qobj with dims [[k_A, k_B], [k_A, k_B]]."""
        groups = ratio_groups(self.runs_table(), estimator, n_groups)
        rho, se = post_selected_state(groups)
        if as_qobj:
            rho = to_qobj(rho, self.model.machine.filter.kept_dims)
        return rho, se

    def measures(self) -> dict[str, Callable[[NDArray], float]]:
        """The measures of rho' this machine supports."""
        return post_selected_measures(self.model.machine, with_concurrence=True)

    # ------------------------------------------------------------ protocol statistics

    def first_success_attempts(self) -> NDArray[np.int64]:
        """K of every machine: the attempt of its first success (censored:
        n_attempts + 1)."""
        return first_success_attempts(self.success)

    def attempts_between_successes(self) -> NDArray[np.int64]:
        """Samples of K' (attempts from a restart to the next pair): the cycle after
        each machine's first pair, observed for half the run (censored: window + 1)."""
        return next_cycle_attempts(self.success, self.renewal_window)

    @property
    def renewal_window(self) -> int:
        """Attempts over which the cycle after the first pair is observed."""
        return max(1, self.n_attempts // 2)

    def bank_first_rounds(self) -> NDArray[np.int64]:
        """R of every bank: its first round with a success (censored: attempts + 1)."""
        return bank_first_success_round(self.success, self.n_machines)

    def renewal_fidelities(self) -> NDArray[np.float64]:
        """Fidelity of the pair that ends the cycle after each machine's first pair
        (one per machine, so short cycles are not over-represented): samples of the
        long-run delivered fidelity."""
        if self.model.machine.target is None:
            raise ValueError("the machine has no target state")
        if np.any(self.attempts_between_successes() > self.renewal_window):
            raise ValueError("some cycles are censored: simulate more attempts")
        pairs = self.pairs_table()
        second = pairs[pairs.groupby("trajectory").cumcount() == 1]
        first_k = self.first_success_attempts()
        eligible = np.flatnonzero(
            (first_k <= self.n_attempts)
            & (first_k + self.renewal_window <= self.n_attempts)
        )
        return second.set_index("trajectory").loc[eligible, "fidelity"].to_numpy()

    def fidelity_by_attempt(self, k_max: int = 10) -> pd.DataFrame:
        """Mean fidelity (with SE) of the pairs delivered at their k-th attempt since
        the last restart, k = 1..k_max (the first cycle, from rho_0, left out)."""
        if self.model.machine.target is None:
            raise ValueError("the machine has no target state")
        pairs = self.pairs_table()
        later = pairs[pairs.groupby("trajectory").cumcount() > 0]
        rows = []
        for k in range(1, k_max + 1):
            f = later.loc[later["k"] == k, "fidelity"].to_numpy()
            se = float(f.std(ddof=1) / math.sqrt(f.size)) if f.size > 1 else math.nan
            mean = float(f.mean()) if f.size else math.nan
            rows.append({"k": k, "n": int(f.size), "fidelity": mean, "se": se})
        return pd.DataFrame(rows)

    @property
    def initial_dm(self) -> NDArray[np.complex128]:
        """The initial state as a density matrix."""
        if self.initial.ndim == 2:
            return self.initial
        return np.outer(self.initial, self.initial.conj())

    def __repr__(self) -> str:
        return (
            f"HeraldingRun(n_traj={self.n_traj}, attempts={self.n_attempts}, "
            f"T={self.attempt_period:g}, machines per bank={self.n_machines}, "
            f"pairs={int(self.success.sum())})"
        )
