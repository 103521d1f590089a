"""The vectorised jump engine: ensembles of trajectories, exact between jumps.

``simulate`` runs ``n_traj`` trajectories of a model (the reset model of Eq. 4 as
thermal-reset jumps, the Lindblad model of Eqs. F1/F6 as quantum jumps) in chunks of
state arrays of shape (chunk, D). Each trajectory is event driven: the next event is
either its next jump (``jump_times.clock_pass``) or the next checkpoint common to all
trajectories (a sample time, a time-average window boundary, or t_max). Nothing is
discretised in time.

Estimators (``ensemble.Ensemble``): ensemble averages at the sample times, time
averages over [burn_in, t_max] split into windows (integrals between events in closed
form for the reset model), and stationary jump rates per channel.

Randomness: an explicit ``numpy.random.Generator``; each chunk spawns its own child
streams for initial states, jump times and channels, so a run is reproducible bit for
bit from the generator's seed and ``chunk_size``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trajectories.engine.ensemble import ChunkSums, Ensemble, JumpCounter, Schedule
from trajectories.engine.free_evolution import Motion
from trajectories.engine.initial_states import PureStateEnsemble
from trajectories.engine.jump_times import clock_pass
from trajectories.engine.jumps import jump_states
from trajectories.engine.propagation import needs_graded_propagation
from trajectories.engine.segment_integrals import segment_density_integral
from trajectories.engine.unravelling import Unravelling
from trajectories.system.models import OpenSystem
from trajectories.system.states import check_state


class Attempts(Protocol):
    """A measurement applied at attempt times (see ``heralding.py``)."""

    def attempt(
        self,
        ids: NDArray[np.int64],
        index: NDArray[np.int64],
        psi: NDArray[np.complex128],
        rng: np.random.Generator,
    ) -> NDArray[np.complex128]:
        """Measure states psi (m, D) of trajectories ``ids`` at attempt ``index``;
        return the states after the measurement (normalised)."""
        ...


@dataclass
class _Active:
    """Arrays of the trajectories of a chunk not yet compacted away (those at
    checkpoint index ``k == len(checkpoints)`` have finished and idle)."""

    ids: NDArray[np.int64]
    psi: NDArray[np.complex128]  # normalised at the last event, then evolved
    clock: NDArray[np.float64]  # E = -log r: jump when ||psi||^2 reaches exp(-E)
    t: NDArray[np.float64]
    k: NDArray[np.int64]
    acc: NDArray[np.complex128] | None  # integral over the current window
    tot: NDArray[np.complex128] | None  # integral over [burn_in, t]

    def keep(self, mask: NDArray[np.bool_]) -> None:
        for name in ("ids", "psi", "clock", "t", "k", "acc", "tot"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value[mask])


def _non_finite(act: _Active, offset: int, rows: NDArray[np.int64]) -> None:
    """Raise if a state of ``rows`` is not finite."""
    bad = rows[~np.isfinite(act.psi[rows]).all(axis=1)]
    if bad.size:
        i = int(bad[0])
        raise FloatingPointError(
            f"non-finite state in trajectory {offset + int(act.ids[i])} at "
            f"t={act.t[i]:.6g}"
        )


CHUNK_SIZE = 16384
"""Default number of trajectories simulated at once."""

COMPACT_FRACTION = 0.25
"""Finished trajectories are dropped from the arrays once they are this fraction."""


def run_chunk(
    unr: Unravelling,
    psi0: NDArray[np.complex128],
    schedule: Schedule,
    observables: NDArray[np.complex128],
    *,
    rng_times: np.random.Generator,
    rng_channels: np.random.Generator,
    offset: int = 0,
    record_jumps: bool = False,
    attempts: Attempts | None = None,
    rng_attempts: np.random.Generator | None = None,
) -> ChunkSums:
    """Run the trajectories starting from psi0 (m, D) to t_max; return their sums.

    At the schedule's attempt times, ``attempts.attempt`` measures the states (after
    any sample at the same time is recorded) and returns the post-measurement states.

    Each pass of the loop moves every running trajectory to its next event. Jumps
    are computed on the whole arrays (nearly every trajectory jumps in a pass), the
    few arrivals at checkpoints on their rows; finished trajectories idle (no jump
    before a zero horizon) until a quarter of the rows have finished and the arrays
    are compacted. Randomness: each jump draws, in the order of the rows, an
    exponential clock (``rng_times``) and two uniforms (``rng_channels``).
    """
    m, D = psi0.shape
    K = len(unr.channels)
    out = ChunkSums.empty(m, D, K, observables.shape[0], schedule)
    counter = JumpCounter(m, K, schedule.burn_in)
    cp = schedule.checkpoints
    n_cp = cp.size
    cp_ext = np.append(cp, cp[-1])  # finished rows: a zero horizon
    windows = schedule.n_windows > 0
    pick = unr.jump_tables.pick
    act = _Active(
        np.arange(m),
        np.array(psi0, dtype=complex, order="C"),
        rng_times.standard_exponential(m),
        np.zeros(m),
        np.zeros(m, dtype=np.int64),
        np.zeros((m, D, D), complex) if windows else None,
        np.zeros((m, D, D), complex) if windows else None,
    )
    out.record_samples(0.0, psi0, observables, schedule)
    while act.ids.size:
        n = act.ids.size
        horizon = cp_ext[act.k] - act.t
        s, motion = clock_pass(unr, act.psi, act.clock, horizon)
        jumping = s < horizon
        step = np.where(jumping, s, horizon)
        if act.acc is not None:
            live = np.flatnonzero((act.t >= schedule.burn_in) & (act.k < n_cp))
            if live.size:
                act.acc[live] += segment_density_integral(
                    unr, unr.to_coords(act.psi[live]), step[live]
                )
        unr.evolve_pass(act.psi, step, motion)
        act.t = np.where(jumping, act.t + step, cp_ext[act.k])
        pq = (act.psi.real**2 + act.psi.imag**2) @ pick
        if not np.isfinite(pq[:, -1]).all():
            _non_finite(act, offset, np.arange(n))
        idle = np.flatnonzero(~jumping)
        arrived = idle[act.k[idle] < n_cp]
        if arrived.size:
            _arrive(unr, act, arrived, step, pq, motion, out, observables, schedule)
            if attempts is not None:
                ai = schedule.attempt_index[act.k[arrived]]
                rows = arrived[ai >= 0]
                if rows.size:
                    act.psi[rows] = attempts.attempt(
                        offset + act.ids[rows], ai[ai >= 0], act.psi[rows], rng_attempts
                    )
                    _non_finite(act, offset, rows)
            act.k[arrived] += 1
        if idle.size < n:
            rows = np.flatnonzero(jumping)
            act.clock[rows] = rng_times.standard_exponential(rows.size)
            u = rng_channels.random((rows.size, 2))
            if 2 * idle.size <= n:  # the whole arrays, then restore the idle rows
                u_all = np.zeros((n, 2))
                u_all[rows] = u
                new, ch = jump_states(unr, act.psi, u_all, pq)
                new[idle] = act.psi[idle]
                act.psi = new
            else:  # few jumps: on their rows
                act.psi[rows], ch_rows = jump_states(unr, act.psi[rows], u, pq[rows])
                ch = np.zeros(n, dtype=np.int64)
                ch[rows] = ch_rows
            counter.add(act.ids, act.t, ch, jumping)
            if record_jumps:
                out.jumps.append(
                    np.stack([act.ids[rows] + offset, act.t[rows], ch[rows]])
                )
        n_done = n - np.count_nonzero(act.k < n_cp)
        if n_done == n or n_done > COMPACT_FRACTION * n:
            act.keep(act.k < n_cp)
    counter.finish(out)
    return out


def _arrive(
    unr: Unravelling,
    act: _Active,
    rows: NDArray[np.int64],
    step: NDArray[np.float64],
    pq: NDArray[np.float64],
    motion: Motion | None,
    out: ChunkSums,
    observables: NDArray[np.complex128],
    schedule: Schedule,
) -> None:
    """Trajectories ``rows`` reached their checkpoint: renormalise the states, make
    the clocks relative to them (memoryless), record samples and windows. ``pq``
    holds the squared norms in its last column."""
    psi = act.psi[rows]
    if unr.uniform_rate is not None:  # the state stayed normalised
        clock = act.clock[rows] - unr.uniform_rate * step[rows]
    else:
        norm = pq[rows, -1]
        psi /= np.sqrt(norm)[:, None]
        clock = act.clock[rows] + np.log(norm)
        if motion is not None:  # frozen rows: the decay is not in psi
            frozen = motion.frozen[rows]
            clock[frozen] -= motion.rate[rows[frozen]] * step[rows[frozen]]
        act.psi[rows] = psi
    act.clock[rows] = np.maximum(clock, 0.0)  # >= 0 but for rounding
    out.checkpoint(
        act.k[rows], psi, act, rows, observables, schedule, unr.coords_to_density
    )


def run_ensemble(
    model: OpenSystem,
    *,
    initial: ArrayLike,
    n_traj: int,
    rng: np.random.Generator,
    t_max: float,
    sample_times: ArrayLike = (),
    burn_in: float = 0.0,
    n_windows: int = 0,
    observables: Mapping[str, ArrayLike] | None = None,
    record_jumps: bool = False,
    chunk_size: int = CHUNK_SIZE,
    interaction_picture: bool = True,
    attempt_times: ArrayLike = (),
    attempts: Attempts | None = None,
    propagator: str = "auto",
) -> Ensemble:
    """Simulate ``n_traj`` trajectories of ``model`` on [0, t_max].

    Parameters
    ----------
    n_traj
        Number of trajectories (>= 1).
    rng
        The source of all randomness.
    t_max
        Horizon (> 0).
    sample_times
        Increasing times in [0, t_max] at which ensemble averages are recorded.
    burn_in, n_windows
        Time averages are taken over [burn_in, t_max] split into ``n_windows`` equal
        windows (the batches of the batch-means errors); 0 windows disables them.
    initial
        A state vector (D,) or a density matrix (D, D), sampled into pure states
        (``PureStateEnsemble``); named starts are resolved by
        ``trajectories.simulation.simulate``.
    observables
        Extra named operators (D, D) whose expectations are estimated; the success
        projector of the machine's filter is always included as ``"p_suc"``.
    record_jumps
        Also keep every jump as (trajectory, time, channel).
    chunk_size
        Trajectories processed at once; memory is O(chunk_size D^2). The default
        (``CHUNK_SIZE``) is the fastest on the qutrit machines: smaller chunks pay
        Python overhead per event pass, larger ones leave the cache.
    attempt_times, attempts
        Times at which ``attempts.attempt`` measures every trajectory (the heralding
        protocol of ``heralding.py``).
    propagator
        ``"eigen"``, ``"taylor"`` (see ``Unravelling.from_model``) or ``"auto"``:
        ``"taylor"`` when the initial state's amplitudes are graded beyond what the
        eigenbasis resolves (``needs_graded_propagation``).

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
    schedule = Schedule.build(t_max, sample_times, burn_in, n_windows, attempt_times)
    rho_0 = check_state(initial, model.machine.dim, "initial")
    if propagator == "auto":
        propagator = "taylor" if needs_graded_propagation(model, rho_0) else "eigen"
    unr = Unravelling.from_model(model, interaction_picture, propagator)
    names, ops = _observables(model, observables)
    start = PureStateEnsemble.of(rho_0)
    n_chunks = -(-int(n_traj) // int(chunk_size))
    total = None
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
        )
        total = sums if total is None else total.merge(sums)
    return Ensemble(
        sums=total,
        schedule=schedule,
        channel_names=unr.channels.names,
        observable_names=names,
        record_jumps=record_jumps,
    )


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
    model: OpenSystem, observables: Mapping[str, ArrayLike] | None
) -> tuple[tuple[str, ...], NDArray[np.complex128]]:
    D = model.machine.dim
    ops = {"p_suc": model.machine.filter.success_projector()}
    for name, op in (observables or {}).items():
        op = np.asarray(op, dtype=complex)
        if op.shape != (D, D) or not np.allclose(op, op.conj().T):
            raise ValueError(
                f"observable {name!r} must be a Hermitian ({D}, {D}) matrix"
            )
        ops[name] = op
    return tuple(ops), np.stack(list(ops.values()))
