"""Results of the heralding protocol: tidy tables and estimates with standard errors.

Per-run estimates use the first attempt of every machine (independent machines, each
seeing the state e^{LT} rho_0; the steady state when the machines start there):

* p_suc two ways: the frequency of sampled successes (Bernoulli SE), and the mean Born
  probability <psi|Pi_A (x) Pi_B|psi> (lower variance: no outcome noise);
* rho' (Eq. 5) as a ratio estimator, sum_i Pi psi_i psi_i^dag Pi / sum_i p_i (Born
  weights) or the mean of the sampled successful states, with delete-one-group
  jackknife standard errors for rho' and for every measure of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.heralding_stats import (
    p_suc_table,
    post_selected_state,
    quality_table,
    ratio_groups,
)
from analysis.measures import chsh_max, concurrence, fidelity, negativity, purity
from trajectories.ensemble import Ensemble
from trajectories.exact import Herald, evolve, herald
from trajectories.filters import OUTCOMES
from trajectories.models import OpenSystem


@dataclass(frozen=True, eq=False)
class HeraldingRun:
    """A finished heralding simulation (see ``heralding.run_heralding``)."""

    model: OpenSystem
    attempt_period: float
    n_machines: int
    initial: NDArray[np.complex128]
    restart: str
    recorder: object
    ensemble: Ensemble

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
        code = self.recorder.outcome.ravel()
        names = np.array(OUTCOMES)[code]
        side = np.char.partition(names.astype(str), "_")
        return pd.DataFrame(
            {
                "trajectory": traj,
                "machine": traj % self.n_machines,
                "bank": traj // self.n_machines,
                "attempt": np.tile(np.arange(1, A + 1), n),
                "time": np.tile(self.attempt_period * np.arange(1, A + 1), n),
                "outcome_A": pd.Categorical(side[:, 0], categories=["pass", "fail"]),
                "outcome_B": pd.Categorical(side[:, 2], categories=["pass", "fail"]),
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
                "time": self.attempt_period * (idx + 1),
                "k": k,
                "wait": self.attempt_period * k,
                "fidelity": fid,
            }
        )

    @cached_property
    def exact_first_attempt(self) -> Herald:
        """The exact filter statistics at the first attempt, on e^{LT} rho_0."""
        rho0 = (
            self.initial
            if self.initial.ndim == 2
            else np.outer(self.initial, self.initial.conj())
        )
        rho = evolve(self.model, rho0, [self.attempt_period])[0]
        return herald(rho, self.model.machine.filter)

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

    def p_suc(self) -> pd.DataFrame:
        """p_suc from the first attempts, sampled and Born, with SEs and z-scores."""
        return p_suc_table(self.runs_table(), self.exact_first_attempt.p_suc)

    def post_selected(
        self, estimator: str = "born", n_groups: int = 50
    ) -> tuple[NDArray, NDArray]:
        """rho' (relabelled subspace) and its jackknife SE (se_re + 1j se_im)."""
        return post_selected_state(ratio_groups(self.runs_table(), estimator, n_groups))

    def measures(self) -> dict[str, Callable[[NDArray], float]]:
        """The measures of rho' this machine supports."""
        dims = self.model.machine.filter.kept_dims
        out: dict[str, Callable[[NDArray], float]] = {
            "negativity": lambda r: negativity(r, dims),
            "purity": purity,
        }
        if self.model.machine.target is not None:
            target = self.model.machine.target
            out["fidelity"] = lambda r: fidelity(r, target)
        if dims == (2, 2):
            out["chsh"] = chsh_max
            out["concurrence"] = concurrence
        return out

    def quality(self, estimator: str = "born", n_groups: int = 50) -> pd.DataFrame:
        """Measures of rho' with jackknife SEs, 95% CIs, exact values and z-scores."""
        groups = ratio_groups(self.runs_table(), estimator, n_groups)
        return quality_table(
            groups, self.measures(), self.exact_first_attempt.rho_post, estimator
        )

    def first_success_attempts(self) -> NDArray[np.float64]:
        """K of every machine: the attempt of its first success (NaN if none)."""
        hit = self.success.any(axis=1)
        return np.where(hit, self.success.argmax(axis=1) + 1.0, np.nan)

    def attempts_between_successes(self) -> NDArray[np.int64]:
        """K' of every later success: attempts since the previous delivered pair."""
        k = self.since_restart
        first = self.success & (np.cumsum(self.success, axis=1) > 1)
        return k[first]

    def bank_success(self) -> NDArray[np.bool_]:
        """(n_banks, n_attempts): whether at least one machine of the bank succeeded."""
        n = self.n_machines
        return self.success.reshape(-1, n, self.n_attempts).any(axis=1)

    def __repr__(self) -> str:
        return (
            f"HeraldingRun(n_traj={self.n_traj}, attempts={self.n_attempts}, "
            f"T={self.attempt_period:g}, machines per bank={self.n_machines}, "
            f"pairs={int(self.success.sum())})"
        )
