"""An ensemble of trajectories: ``run_ensemble`` simulates it, ``Ensemble`` holds its
estimates.

``run_ensemble`` runs ``n_traj`` trajectories of a model (the reset model of Eq. 4 as
thermal-reset jumps, the Lindblad model of Eqs. F1/F6 as quantum jumps) in chunks of
state arrays of shape (chunk, D), each through the event loop (``event_loop``).
Randomness: an explicit ``numpy.random.Generator``; each chunk spawns its own child
streams for initial states, jump times, channels and attempts, so a run is
reproducible bit for bit from the generator's seed and ``chunk_size``.

The estimators of ``Ensemble``, each with its standard error:

* ensemble averages at the sample times (independent trajectories: SE = std/sqrt(n));
* time averages over [burn_in, t_max]: every (trajectory, window) mean is a batch, and
  the SE is the batch-means SE; the integrated autocorrelation time
  tau_int = b Var(batch mean) / (2 sigma^2) tells how many independent samples a
  trajectory of duration T is worth (T / 2 tau_int);
* stationary jump rates per channel: jumps after burn-in per unit time.

They are read from the running sums of ``chunk_sums.ChunkSums`` on the checkpoints of
``schedule.Schedule``.

Parameters of ``run_ensemble``
------------------------------
initial
    A state vector (D,) or a density matrix (D, D) (arrays, or ``qutip.Qobj`` with
    the machine's dims [[d_A, d_B], [d_A, d_B]]), sampled into pure states
    (``initial_states.PureStateEnsemble``); named starts are resolved by
    ``trajectories.simulation.simulate``.
n_traj, rng, t_max
    Number of trajectories (>= 1), the source of all randomness, the horizon (> 0).
sample_times
    Increasing times in [0, t_max] at which ensemble averages are recorded.
burn_in, n_windows, average_end
    Time averages are taken over [burn_in, average_end] (default t_max) split into
    ``n_windows`` equal windows (the batches of the batch-means errors); 0 windows
    disables them.
average_elements
    (i, j), two index arrays with i <= j: the elements of the time-averaged density
    to keep (``averages.ElementAverage``; default None: all). The work and memory
    of the time averages then scale with these elements, not with D^2; the others
    read NaN, and every observable must live on them.
observables
    Extra named operators (D, D) (arrays or Qobjs) whose expectations are
    estimated; the success
    projector of the machine's filter is always included as ``"p_suc"``.
record_jumps
    Also keep every jump as (trajectory, time, channel).
chunk_size
    Trajectories processed at once; memory is O(chunk_size D^2). The default
    (``CHUNK_SIZE``) is the fastest on the qutrit machines: smaller chunks pay
    Python overhead per event pass, larger ones leave the cache.
interaction_picture
    H_eff with H_int alone (True) or the full H (``Unravelling.from_model``).
attempt_times, attempts
    Times at which ``attempts.attempt`` measures every trajectory (the heralding
    protocol of ``heralding``).
propagator
    ``"eigen"``, ``"taylor"`` (see ``Unravelling.from_model``) or ``"auto"``:
    ``"taylor"`` when the initial state's amplitudes are graded beyond what the
    eigenbasis resolves (``propagation.needs_graded_propagation``).
kernel
    ``"auto"`` (default): the compiled kernel (``kernel.run_rows``) wherever it
    applies (not at an exceptional point of H_eff, no jump record), else the
    numpy passes;
    ``"compiled"`` or ``"numpy"`` to insist on one (``event_loop.use_compiled``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from analysis.estimators import (
    Estimate,
    integrated_autocorrelation_time,
    moments_mean_se,
)
from trajectories.engine.averages import (
    ElementAverage,
    FullAverage,
    TimeAverage,
)
from trajectories.engine.chunk_sums import ChunkSums
from trajectories.engine.event_loop import Attempts, run_chunk, use_compiled
from trajectories.engine.initial_states import PureStateEnsemble
from trajectories.engine.propagation import needs_graded_propagation
from trajectories.engine.schedule import Schedule
from trajectories.engine.unravelling import Unravelling
from trajectories.system.models import OpenSystem
from trajectories.system.qobj import from_qobj, to_qobj
from trajectories.system.states import check_state

if TYPE_CHECKING:
    from qutip import Qobj

CHUNK_SIZE = 16384
"""Default number of trajectories simulated at once."""


@dataclass(frozen=True, eq=False)
class Ensemble:
    """Estimates from a finished ensemble of trajectories (see module docstring)."""

    sums: ChunkSums
    schedule: Schedule
    channel_names: tuple[str, ...]
    observable_names: tuple[str, ...]
    record_jumps: bool = False
    dims: tuple[int, int] | None = None
    """Local dimensions (d_A, d_B) of the machine (the dims of Qobj densities)."""
    average_elements: tuple[NDArray, NDArray] | None = None
    """The elements (i, j) of the time-averaged density kept (None: all)."""

    @property
    def n_traj(self) -> int:
        """Number of trajectories."""
        return int(self.sums.counts.shape[0])

    def density(self, i: int, as_qobj: bool = False) -> tuple[Any, NDArray]:
        """Ensemble-average rho at sample time i and its SE (se_re + 1j se_im);
        with ``as_qobj`` rho is a Qobj with dims [[d_A, d_B], [d_A, d_B]]."""
        s = self.sums
        mean, se = moments_mean_se(s.rho[i], s.rho_sq[i], int(s.n_samples[i]))
        return self._qobj(mean) if as_qobj else mean, se

    def _qobj(self, rho: NDArray) -> Qobj:
        if self.dims is None:
            raise ValueError("this Ensemble has no dims; build it with run_ensemble")
        return to_qobj(rho, self.dims)

    def observable(self, name: str) -> tuple[NDArray, NDArray]:
        """Ensemble averages of an observable at every sample time, with SEs."""
        k = self.observable_names.index(name)
        s = self.sums
        means, ses = [], []
        for i in range(s.n_samples.size):
            m, se = moments_mean_se(s.obs[i, k], s.obs_sq[i, k], int(s.n_samples[i]))
            means.append(m)
            ses.append(se)
        return np.array(means), np.array(ses)

    def _require_windows(self) -> None:
        if self.schedule.n_windows == 0:
            raise ValueError("no time averages: simulate with n_windows >= 1")

    def _batches(self) -> tuple[str, int]:
        """Whole trajectories are the batches when there are several (independent, so
        the SE holds whatever tau_int); a single trajectory uses its windows."""
        self._require_windows()
        if self.n_traj >= 2:
            return "traj", int(self.sums.n_traj_batches[0])
        return "win", int(self.sums.n_batches.sum())

    def time_average_density(self, as_qobj: bool = False) -> tuple[Any, NDArray]:
        """Time-average rho over [burn_in, average_end] with its batch-means SE
        (rho a Qobj with ``as_qobj``); elements outside ``average_elements`` are
        NaN."""
        pre, n = self._batches()
        s = self.sums
        mean, se = moments_mean_se(
            getattr(s, f"{pre}_rho").sum(axis=0),
            getattr(s, f"{pre}_rho_sq").sum(axis=0),
            n,
        )
        if self.average_elements is not None:
            i, j = self.average_elements
            kept = np.zeros(mean.shape, dtype=bool)
            kept[i, j] = kept[j, i] = True
            mean, se = np.where(kept, mean, np.nan), np.where(kept, se, np.nan)
        return self._qobj(mean) if as_qobj else mean, se

    def time_average(self, name: str) -> Estimate:
        """Time average of an observable with its batch-means SE."""
        pre, n = self._batches()
        k = self.observable_names.index(name)
        s = self.sums
        m, se = moments_mean_se(
            getattr(s, f"{pre}_obs")[:, k].sum(),
            getattr(s, f"{pre}_obs_sq")[:, k].sum(),
            n,
        )
        return Estimate(float(m), float(se), n)

    def autocorrelation_time(self, name: str) -> float:
        """Integrated autocorrelation time of an observable (needs sample times after
        burn-in for its stationary variance)."""
        self._require_windows()
        k = self.observable_names.index(name)
        s = self.sums
        late = np.flatnonzero(self.schedule.sample_times >= self.schedule.burn_in)
        if late.size == 0:
            raise ValueError("autocorrelation_time needs sample times >= burn_in")
        n_s = s.n_samples[late]
        mean = s.obs[late, k] / n_s
        variance = float(np.mean((s.obs_sq[late, k] - n_s * mean**2) / (n_s - 1)))
        pre, n = self._batches()
        length = (
            self.schedule.average_end - self.schedule.burn_in
            if pre == "traj"
            else self.schedule.window_length
        )
        bm = getattr(s, f"{pre}_obs")[:, k].sum() / n
        var_bm = (getattr(s, f"{pre}_obs_sq")[:, k].sum() - n * bm**2) / (n - 1)
        return integrated_autocorrelation_time(var_bm, length, variance)

    def jump_rates(self) -> tuple[NDArray, NDArray]:
        """Jumps per unit time after burn-in, per channel, with SEs (n_traj >= 2)."""
        duration = self.schedule.t_max - self.schedule.burn_in
        x = self.sums.counts_after_burn_in.astype(float) / duration
        n = x.shape[0]
        if n < 2:
            raise ValueError("jump_rates needs n_traj >= 2 for a standard error")
        return x.mean(axis=0), x.std(axis=0, ddof=1) / math.sqrt(n)

    def jumps(self) -> pd.DataFrame:
        """Every jump as a tidy table (trajectory, time, channel), time-ordered per
        trajectory (requires ``record_jumps=True``)."""
        if not self.record_jumps:
            raise ValueError("jumps were not recorded: simulate with record_jumps=True")
        if not self.sums.jumps:
            data = np.zeros((3, 0))
        else:
            data = np.concatenate(self.sums.jumps, axis=1)
        df = pd.DataFrame(
            {
                "trajectory": data[0].astype(np.int64),
                "time": data[1],
                "channel": pd.Categorical.from_codes(
                    data[2].astype(np.int64), categories=list(self.channel_names)
                ),
            }
        )
        return df.sort_values(["trajectory", "time"], kind="stable").reset_index(
            drop=True
        )

    def counts(self) -> pd.DataFrame:
        """Jump counts per trajectory (rows) and channel (columns)."""
        return pd.DataFrame(self.sums.counts, columns=list(self.channel_names))

    def __repr__(self) -> str:
        s = self.schedule
        return (
            f"Ensemble(n_traj={self.n_traj}, t_max={s.t_max:g}, "
            f"samples={s.sample_times.size}, windows={s.n_windows}, "
            f"jumps={int(self.sums.counts.sum())})"
        )


def run_ensemble(
    model: OpenSystem,
    *,
    initial: ArrayLike | Qobj,
    n_traj: int,
    rng: np.random.Generator,
    t_max: float,
    sample_times: ArrayLike = (),
    burn_in: float = 0.0,
    n_windows: int = 0,
    average_end: float | None = None,
    observables: Mapping[str, ArrayLike | Qobj] | None = None,
    record_jumps: bool = False,
    chunk_size: int = CHUNK_SIZE,
    interaction_picture: bool = True,
    attempt_times: ArrayLike = (),
    attempts: Attempts | None = None,
    propagator: str = "auto",
    average_elements: tuple[ArrayLike, ArrayLike] | None = None,
    kernel: str = "auto",
) -> Ensemble:
    """Simulate ``n_traj`` trajectories of ``model`` on [0, t_max] (module docstring).

    Examples
    --------
    >>> from trajectories.system.machines import qutrit
    >>> from trajectories.system.models import ResetModel
    >>> model = ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01)
    >>> psi = np.zeros(9); psi[model.machine.index(2, 0)] = 1
    >>> ens = run_ensemble(model, initial=psi, n_traj=200, rng=np.random.default_rng(1),
    ...                    t_max=100.0, sample_times=[100.0])
    >>> ens.n_traj, ens.density(0)[0].shape
    (200, (9, 9))
    """
    _check_run(n_traj, rng, chunk_size)
    schedule = Schedule.build(
        t_max, sample_times, burn_in, n_windows, attempt_times, average_end
    )
    rho_0, unr = _unravelling(model, initial, interaction_picture, propagator)
    use_compiled(unr, kernel, record_jumps)  # a bad ``kernel`` fails before any work
    names, ops, average = _estimated(model, unr, observables, average_elements)
    sums = _run_chunks(
        unr,
        PureStateEnsemble.of(rho_0),
        schedule,
        ops,
        n_traj=n_traj,
        rng=rng,
        chunk_size=chunk_size,
        run=(record_jumps, attempts, average, kernel),
    )
    return Ensemble(
        sums=sums,
        schedule=schedule,
        channel_names=unr.channels.names,
        observable_names=names,
        record_jumps=record_jumps,
        dims=model.machine.dims,
        average_elements=average.elements,
    )


def _unravelling(
    model: OpenSystem,
    initial: ArrayLike | Qobj,
    interaction_picture: bool,
    propagator: str,
) -> tuple[NDArray[np.complex128], Unravelling]:
    """The checked initial state and the model's ``Unravelling``."""
    rho_0 = check_state(initial, model.machine.dims, "initial")
    if propagator == "auto":
        propagator = "taylor" if needs_graded_propagation(model, rho_0) else "eigen"
    return rho_0, Unravelling.from_model(model, interaction_picture, propagator)


def _estimated(
    model: OpenSystem,
    unr: Unravelling,
    observables: Mapping[str, ArrayLike | Qobj] | None,
    elements: tuple[ArrayLike, ArrayLike] | None,
) -> tuple[tuple[str, ...], NDArray[np.complex128], TimeAverage]:
    """The observables' names and operators, and the time average of every element
    or of ``elements`` (on which the observables must live)."""
    names, ops = _observables(model, observables)
    if elements is None:
        return names, ops, FullAverage(unr)
    average = ElementAverage.build(unr, *elements)
    average.check_observables(names, ops)
    return names, ops, average


def _run_chunks(
    unr: Unravelling,
    start: PureStateEnsemble,
    schedule: Schedule,
    ops: NDArray[np.complex128],
    *,
    n_traj: int,
    rng: np.random.Generator,
    chunk_size: int,
    run: tuple[bool, Attempts | None, TimeAverage, str],
) -> ChunkSums:
    """The merged sums of ``n_traj`` trajectories from ``start``, run in chunks of
    ``chunk_size``, each with its own child streams of ``rng``; ``run`` holds
    ``run_chunk``'s record_jumps, attempts, average and kernel."""
    record_jumps, attempts, average, kernel = run
    n_chunks = -(-int(n_traj) // int(chunk_size))
    total, counts, late = None, [], []
    for b, child in enumerate(rng.spawn(n_chunks)):
        r_init, r_times, r_channels, r_attempts = child.spawn(4)
        m = min(chunk_size, n_traj - b * chunk_size)
        sums = run_chunk(
            unr,
            start.sample(m, r_init),
            schedule,
            ops,
            rng_times=r_times,
            rng_channels=r_channels,
            offset=b * chunk_size,
            record_jumps=record_jumps,
            attempts=attempts,
            rng_attempts=r_attempts,
            average=average,
            kernel=kernel,
        )
        counts.append(sums.counts)
        late.append(sums.counts_after_burn_in)
        if total is None:
            total = sums
        else:
            total.add_sums(sums)
    total.counts = np.concatenate(counts)  # once: merging per chunk is quadratic
    total.counts_after_burn_in = np.concatenate(late)
    return total


def _check_run(n_traj: object, rng: object, chunk_size: object) -> None:
    """ValueError for a bad trajectory count, generator or chunk size."""
    if (
        isinstance(n_traj, bool)
        or not isinstance(n_traj, (int, np.integer))
        or n_traj < 1
    ):
        raise ValueError(f"n_traj={n_traj!r} must be an integer >= 1")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng must be a numpy.random.Generator, got {type(rng).__name__}"
        )
    if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size!r} must be an integer >= 1")


def _observables(
    model: OpenSystem, observables: Mapping[str, ArrayLike | Qobj] | None
) -> tuple[tuple[str, ...], NDArray[np.complex128]]:
    m = model.machine
    D = m.dim
    ops = {"p_suc": m.filter.success_projector()}
    for name, op in (observables or {}).items():
        op = np.asarray(from_qobj(op, m.dims, f"observable {name!r}", "oper"), complex)
        if op.shape != (D, D) or not np.allclose(op, op.conj().T):
            raise ValueError(
                f"observable {name!r} must be a Hermitian ({D}, {D}) matrix"
            )
        ops[name] = op
    return tuple(ops), np.stack(list(ops.values()))
