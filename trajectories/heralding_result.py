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

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.estimators import z_score
from analysis.heralding_stats import (
    p_suc_table,
    post_selected_state,
    quality_table,
    ratio_groups,
)
from analysis.measures import (
    chsh_max,
    fidelity,
    purity,
    signed_concurrence,
    signed_negativity,
)
from analysis.waiting_times import (
    bank_first_success_round,
    chi_square_gof,
    first_success_attempts,
    next_cycle_attempts,
    pmf_quantile,
    quantile_ci,
    sample_moments,
)
from trajectories.ensemble import Ensemble
from trajectories.exact import Herald, evolve, herald
from trajectories.filters import OUTCOMES
from trajectories.machines import Machine
from trajectories.models import OpenSystem
from trajectories.protocol_exact import (
    attempts_pmf,
    bank_first_success_pmf,
    delivered_state,
    geometric_pmf,
    pair_rate,
    restart_state,
    round_success_probability,
    success_probability,
)

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


def exact_measures(machine: Machine, rho: NDArray) -> dict[str, float]:
    """The reported (clipped) values of the measures of an exact rho'."""
    return {
        name: max(f(rho), 0.0) if name in CLIPPED_MEASURES else f(rho)
        for name, f in post_selected_measures(machine).items()
    }


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
        return post_selected_measures(self.model.machine, with_concurrence=True)

    def quality(self, estimator: str = "born", n_groups: int = 50) -> pd.DataFrame:
        """Measures of rho' with jackknife SEs, 95% CIs, exact values and z-scores."""
        groups = ratio_groups(self.runs_table(), estimator, n_groups)
        return quality_table(
            groups,
            self.measures(),
            self.exact_first_attempt.rho_post,
            estimator,
            ranges=measure_ranges(self.model.machine),
            clipped=CLIPPED_MEASURES,
        )

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

    def attempts_law(self, which: str = "first") -> tuple[NDArray, object]:
        """Samples of K (``"first"``, from rho_0), K' (``"renewal"``, from the
        restart state) or R (``"bank"``) with the exact law they follow."""
        T, A = self.attempt_period, self.n_attempts
        if which == "first":
            return self.first_success_attempts(), attempts_pmf(
                self.model, T, A, self.initial_dm
            )
        if which == "renewal":
            return self.attempts_between_successes(), attempts_pmf(
                self.model,
                T,
                self.renewal_window,
                restart_state(self.model, self.restart),
            )
        if which == "bank":
            return self.bank_first_rounds(), bank_first_success_pmf(
                self.model, T, self.n_machines, A, self.initial_dm
            )
        raise ValueError(f"which={which!r} must be 'first', 'renewal' or 'bank'")

    def goodness_of_fit(
        self, which: str = "first", geometric: bool = False, min_expected: float = 5.0
    ):
        """Chi-square of the sampled K (or K', R) against the exact law, or against
        the geometric law with parameter p_suc (``geometric=True``), over bins of
        expected count >= ``min_expected`` (see ``chi_square_gof``)."""
        k, law = self.attempts_law(which)
        if geometric:
            p = success_probability(self.model)
            if which == "bank":
                p = 1 - (1 - p) ** self.n_machines
            law = geometric_pmf(p, law.pmf.size)
        return chi_square_gof(k, law.pmf, law.tail, min_expected=min_expected)

    def waiting_times(self, quantiles: tuple[float, ...] = (0.5, 0.9)) -> pd.DataFrame:
        """Attempts until success (K from rho_0; K' between pairs; R of a bank) and
        waits W = K T: mean, std and quantiles with errors or 95% CIs, next to the
        exact values (conditioned on K <= attempts, since longer waits are censored).
        """
        rows = []
        for which in ("first", "renewal", "bank"):
            k, law = self.attempts_law(which)
            done = k[k <= law.pmf.size]
            if done.size < 2:
                continue
            kk = np.arange(1, law.pmf.size + 1)
            cond = law.pmf / law.pmf.sum()
            exact_mean = float(kk @ cond)
            exact_std = math.sqrt(float(kk**2 @ cond) - exact_mean**2)
            m = sample_moments(done)
            base = {
                "variable": which,
                "n": int(k.size),
                "censored": float(np.mean(k > self.n_attempts)),
                "censored_exact": law.tail,
            }
            rows.append(
                base
                | {
                    "statistic": "mean",
                    "value": m.mean,
                    "se": m.mean_se,
                    "exact": exact_mean,
                    "z": z_score(m.mean, m.mean_se, exact_mean),
                }
            )
            rows.append(
                base
                | {
                    "statistic": "std",
                    "value": m.std,
                    "se": m.std_se,
                    "exact": exact_std,
                    "z": z_score(m.std, m.std_se, exact_std),
                }
            )
            for q in quantiles:
                est = quantile_ci(done, q)
                rows.append(
                    base
                    | {
                        "statistic": f"q{q:g}",
                        "value": est.estimate,
                        "ci_low": est.low,
                        "ci_high": est.high,
                        "exact": pmf_quantile(cond, q),
                    }
                )
        table = pd.DataFrame(rows)
        for col in ("value", "se", "exact", "ci_low", "ci_high"):
            if col in table:
                table[f"wait_{col}"] = table[col] * self.attempt_period
        return table

    def round_success(self) -> dict[str, float]:
        """P(at least one of the n machines of a bank succeeds in round 1), sampled
        (binomial SE) and exact; 1 - (1 - p_suc)^n from the steady state."""
        hit = self.success[:, 0].reshape(-1, self.n_machines).any(axis=1)
        exact = round_success_probability(
            self.model, self.attempt_period, self.n_machines, self.initial_dm
        )
        value = float(hit.mean())
        se = math.sqrt(exact * (1 - exact) / hit.size)
        return {
            "value": value,
            "se": se,
            "exact": exact,
            "n_banks": int(hit.size),
            "z": z_score(value, se, exact),
        }

    def pair_rate(self) -> dict[str, float]:
        """Delivered pairs per machine per unit time in the long run, 1 / (T E[K']),
        from the cycles after the first pairs, against the exact value (needs a run
        long enough that no such cycle is censored)."""
        k = self.attempts_between_successes()
        m = sample_moments(k, censored_at=self.renewal_window + 1)
        T = self.attempt_period
        value = 1 / (T * m.mean)
        se = m.mean_se / (T * m.mean**2)
        exact = pair_rate(self.model, T, self.restart)
        return {
            "value": value,
            "se": se,
            "exact": exact,
            "z": z_score(value, se, exact),
        }

    def delivered_fidelity(self) -> dict[str, float]:
        """Long-run fidelity of the delivered pairs: the pair that ends the cycle after
        each machine's first pair (one per machine, so short cycles are not
        over-represented), against the exact long-run delivered state."""
        target = self.model.machine.target
        if target is None:
            raise ValueError("the machine has no target state")
        k = self.attempts_between_successes()
        if np.any(k > self.renewal_window):
            raise ValueError("some cycles are censored: simulate more attempts")
        pairs = self.pairs_table()
        second = pairs[pairs.groupby("trajectory").cumcount() == 1]
        first_k = self.first_success_attempts()
        eligible = np.flatnonzero(
            (first_k <= self.n_attempts)
            & (first_k + self.renewal_window <= self.n_attempts)
        )
        f = second.set_index("trajectory").loc[eligible, "fidelity"].to_numpy()
        exact = fidelity(
            delivered_state(self.model, self.attempt_period, None, self.restart), target
        )
        value, se = float(f.mean()), float(f.std(ddof=1) / math.sqrt(f.size))
        return {
            "value": value,
            "se": se,
            "exact": exact,
            "n": int(f.size),
            "z": z_score(value, se, exact),
        }

    def quality_by_attempt(self, k_max: int = 10) -> pd.DataFrame:
        """Mean fidelity of the pairs delivered at their k-th attempt since the last
        restart (k = 1..k_max; the first cycle from rho_0 is left out), with SEs and
        the exact fidelity of the state delivered at attempt k from the restart state.
        """
        pairs = self.pairs_table()
        target = self.model.machine.target
        if target is None:
            raise ValueError("the machine has no target state")
        first = pairs.groupby("trajectory").cumcount() == 0
        later = pairs[~first]
        rho_r = restart_state(self.model, self.restart)
        rows = []
        for k in range(1, k_max + 1):
            f = later.loc[later["k"] == k, "fidelity"].to_numpy()
            exact = fidelity(
                delivered_state(
                    self.model, self.attempt_period, k, self.restart, rho_r
                ),
                target,
            )
            se = float(f.std(ddof=1) / math.sqrt(f.size)) if f.size > 1 else math.nan
            rows.append(
                {
                    "k": k,
                    "n": int(f.size),
                    "fidelity": float(f.mean()) if f.size else math.nan,
                    "se": se,
                    "exact": exact,
                }
            )
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
