"""The event loop of one chunk of trajectories, exact between jumps.

``run_chunk`` runs an array of trajectories (chunk, D) to t_max. Each trajectory is
event driven: the next event is either its next jump (``jump_times.clock_pass``) or
the next checkpoint common to all trajectories (a sample time, a time-average window
boundary, an attempt time, or t_max; ``schedule.Schedule``). Nothing is discretised
in time. Between events the states evolve freely (``Unravelling.evolve_pass``), the
time averages integrate them (``segment_integrals``); at a jump the channel and the
new state come from ``jumps.jump_states``; at a checkpoint the states are
renormalised, recorded into ``chunk_sums.ChunkSums`` and, at an attempt time,
measured by the ``Attempts`` of the heralding protocol.

Two implementations of the passes between checkpoints: the compiled kernel
(``kernel.run_rows``: every trajectory in turn, to the next checkpoint; the default)
and the vectorised numpy passes below (every trajectory to its next event at once),
which are the reference and run where the kernel does not apply (``use_compiled``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from trajectories.engine.averages import ElementAverage, FullAverage, TimeAverage
from trajectories.engine.chunk_sums import ChunkSums, JumpCounter
from trajectories.engine.free_evolution import Motion
from trajectories.engine.jump_times import clock_pass
from trajectories.engine.jumps import jump_states
from trajectories.engine.kernel_tables import (
    KernelTables,
    PairTables,
    all_pairs,
    kernel_tables,
    pair_tables,
    supports,
    workspace,
)
from trajectories.engine.schedule import Schedule
from trajectories.engine.segment_integrals import Pairs
from trajectories.engine.unravelling import Unravelling


class Attempts(Protocol):
    """A measurement applied at attempt times (see ``heralding``)."""

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

    @classmethod
    def start(
        cls,
        psi0: NDArray[np.complex128],
        clock: NDArray[np.float64],
        average: TimeAverage | None,
    ) -> _Active:
        """Trajectories at t = 0 in states psi0 (m, D) with clocks ``clock``, with
        the running integrals of ``average`` (None: no time averages)."""
        m = psi0.shape[0]
        return cls(
            np.arange(m),
            np.array(psi0, dtype=complex, order="C"),
            clock,
            np.zeros(m),
            np.zeros(m, dtype=np.int64),
            None if average is None else average.zeros(m),
            None if average is None else average.zeros(m),
        )

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


KERNELS = ("auto", "compiled", "numpy")
"""How a chunk runs: the compiled kernel (``kernel.run_rows``), the vectorised numpy
passes, or ``auto``: compiled wherever it applies (``kernel_tables.supports``: not at
an exceptional point of H_eff; and no jump record)."""


def use_compiled(unr: Unravelling, kernel: str, record_jumps: bool) -> bool:
    """Whether a chunk of ``unr`` runs in the compiled kernel; ValueError for an
    unknown ``kernel`` or a compiled one that does not apply."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel={kernel!r} must be one of {KERNELS}")
    fits = supports(unr) and not record_jumps
    if kernel == "compiled" and not fits:
        raise ValueError(
            "kernel='compiled' needs an eigenbasis of H_eff's coupled block (not "
            "at an exceptional point) and no jump record; use kernel='auto' or "
            "'numpy'"
        )
    return kernel != "numpy" and fits


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
    average: TimeAverage | None = None,
    kernel: str = "auto",
) -> ChunkSums:
    """Run the trajectories starting from psi0 (m, D) to t_max; return their sums.

    At the schedule's attempt times, ``attempts.attempt`` measures the states (after
    any sample at the same time is recorded) and returns the post-measurement states.
    Finished trajectories idle (no jump before a zero horizon) until a quarter of the
    rows have finished and the arrays are compacted. Time averages keep the elements
    of ``average`` (default: every element, ``FullAverage``). ``kernel`` is one
    of ``KERNELS`` (``use_compiled``).
    """
    m, D = psi0.shape
    K = len(unr.channels)
    average = FullAverage(unr) if average is None else average
    run = _ChunkRun(
        unr,
        schedule,
        observables,
        ChunkSums.empty(m, D, K, observables.shape[0], schedule),
        JumpCounter(m, K, schedule.burn_in),
        rng_times,
        rng_channels,
        rng_attempts,
        offset,
        record_jumps,
        attempts,
        average,
    )
    act = _Active.start(
        psi0,
        rng_times.standard_exponential(m),
        average if schedule.n_windows > 0 else None,
    )
    run.out.record_samples(0.0, psi0, observables, schedule)
    n_cp = schedule.checkpoints.size
    if use_compiled(unr, kernel, record_jumps):
        run.run_compiled(act, kernel_tables(unr), _pairs(unr, average, act.acc))
        return run.out
    while act.ids.size:
        n = act.ids.size
        run.advance(act)
        n_done = n - np.count_nonzero(act.k < n_cp)
        if n_done == n or n_done > COMPACT_FRACTION * n:
            act.keep(act.k < n_cp)
    run.counter.finish(run.out)
    return run.out


def _pairs(unr: Unravelling, average: TimeAverage, acc: NDArray | None) -> PairTables:
    """The kernel's pairs of ``average`` (every pair for ``FullAverage``; none
    without running integrals ``acc``)."""
    if acc is None:
        return pair_tables(Pairs.of(unr, [], []))
    pairs = average.pairs if isinstance(average, ElementAverage) else all_pairs(unr)
    return pair_tables(pairs)


@dataclass(frozen=True, eq=False)
class _Events:
    """The events of one pass: each row jumps after ``step``, or reaches its
    checkpoint (``idle``)."""

    step: NDArray[np.float64]  # time to the row's event
    jumping: NDArray[np.bool_]
    idle: NDArray[np.int64]  # rows that reached their horizon instead
    pq: NDArray[np.float64]  # |psi|^2 @ jump_tables.pick after the step; norm^2 last
    motion: Motion | None


@dataclass
class _ChunkRun:
    """What the passes of ``run_chunk`` share: the model's arrays, the schedule, the
    sums they add to and the random streams.

    Each pass (``advance``) moves every running trajectory to its next event. Jumps
    are computed on the whole arrays (nearly every trajectory jumps in a pass), the
    few arrivals at checkpoints on their rows. Randomness: each jump draws, in the
    order of the rows, an exponential clock (``rng_times``) and two uniforms
    (``rng_channels``); each attempt uses ``rng_attempts``.
    """

    unr: Unravelling
    schedule: Schedule
    observables: NDArray[np.complex128]
    out: ChunkSums
    counter: JumpCounter
    rng_times: np.random.Generator
    rng_channels: np.random.Generator
    rng_attempts: np.random.Generator | None
    offset: int
    record_jumps: bool
    attempts: Attempts | None
    average: TimeAverage
    horizons: NDArray[np.float64] = field(init=False)  # checkpoints, then a repeat

    def __post_init__(self) -> None:
        cp = self.schedule.checkpoints
        self.horizons = np.append(cp, cp[-1])  # finished rows: a zero horizon

    def advance(self, act: _Active) -> None:
        """Move every trajectory of ``act`` to its next jump or checkpoint."""
        unr, n = self.unr, act.ids.size
        n_cp = self.schedule.checkpoints.size
        horizon = self.horizons[act.k] - act.t
        s, motion = clock_pass(unr, act.psi, act.clock, horizon)
        jumping = s < horizon
        step = np.where(jumping, s, horizon)
        if act.acc is not None:
            sched = self.schedule
            live = np.flatnonzero(
                (act.t >= sched.burn_in) & (act.t < sched.average_end) & (act.k < n_cp)
            )
            if live.size:
                act.acc[live] += self.average.integral(
                    unr.to_coords(act.psi[live]), step[live]
                )
        unr.evolve_pass(act.psi, step, motion)
        act.t = np.where(jumping, act.t + step, self.horizons[act.k])
        pq = (act.psi.real**2 + act.psi.imag**2) @ unr.jump_tables.pick
        if not np.isfinite(pq[:, -1]).all():
            _non_finite(act, self.offset, np.arange(n))
        events = _Events(step, jumping, np.flatnonzero(~jumping), pq, motion)
        arrived = events.idle[act.k[events.idle] < n_cp]
        if arrived.size:
            self._arrive(act, arrived, events)
            self._attempt(act, arrived)
            act.k[arrived] += 1
        if events.idle.size < n:
            self._jump(act, events)

    def run_compiled(
        self, act: _Active, tab: KernelTables, pairs: PairTables
    ) -> None:
        """Run every trajectory to t_max in the compiled kernel, one checkpoint at a
        time: all rows reach each checkpoint together (no compaction)."""
        sched, out = self.schedule, self.out
        m = act.ids.size
        acc = np.zeros((m, 0), complex) if act.acc is None else act.acc.reshape(m, -1)
        from trajectories.engine import kernel  # numba loads here (~1 s), see layout

        ws = workspace(tab, act.psi.shape[1])
        for k, t_end in enumerate(sched.checkpoints):
            live = sched.burn_in <= act.t[0] < sched.average_end and act.acc is not None
            failed = kernel.run_rows(
                act.psi, act.t, act.clock, np.full(m, t_end), np.full(m, live), acc,
                out.counts, out.counts_after_burn_in, sched.burn_in, tab, pairs, ws,
                self.rng_times, self.rng_channels,
            )
            if failed >= 0:
                raise FloatingPointError(
                    f"jump-time root finding did not converge in trajectory "
                    f"{self.offset + failed}"
                )
            rows = np.arange(m)
            if not np.isfinite(act.psi).all():
                _non_finite(act, self.offset, rows)
            act.k[:] = k
            out.checkpoint(
                act.k, act.psi, act, rows, self.observables, sched, self.average
            )
            self._attempt(act, rows)
        act.k[:] = sched.checkpoints.size

    def _arrive(self, act: _Active, rows: NDArray[np.int64], events: _Events) -> None:
        """Trajectories ``rows`` reached their checkpoint: renormalise the states,
        make the clocks relative to them (memoryless), record samples and windows."""
        unr, step, motion = self.unr, events.step, events.motion
        psi = act.psi[rows]
        if unr.uniform_rate is not None:  # the state stayed normalised
            clock = act.clock[rows] - unr.uniform_rate * step[rows]
        else:
            norm = events.pq[rows, -1]
            psi /= np.sqrt(norm)[:, None]
            clock = act.clock[rows] + np.log(norm)
            if motion is not None:  # frozen rows: the decay is not in psi
                frozen = motion.frozen[rows]
                clock[frozen] -= motion.rate[rows[frozen]] * step[rows[frozen]]
            act.psi[rows] = psi
        act.clock[rows] = np.maximum(clock, 0.0)  # >= 0 but for rounding
        self.out.checkpoint(
            act.k[rows],
            psi,
            act,
            rows,
            self.observables,
            self.schedule,
            self.average,
        )

    def _attempt(self, act: _Active, arrived: NDArray[np.int64]) -> None:
        """Measure the trajectories of ``arrived`` whose checkpoint is an attempt."""
        if self.attempts is None:
            return
        ai = self.schedule.attempt_index[act.k[arrived]]
        rows = arrived[ai >= 0]
        if rows.size:
            act.psi[rows] = self.attempts.attempt(
                self.offset + act.ids[rows],
                ai[ai >= 0],
                act.psi[rows],
                self.rng_attempts,
            )
            _non_finite(act, self.offset, rows)

    def _jump(self, act: _Active, events: _Events) -> None:
        """The rows of ``events.jumping`` jump: new clocks, channels and states."""
        n, jumping, idle, pq = act.ids.size, events.jumping, events.idle, events.pq
        rows = np.flatnonzero(jumping)
        act.clock[rows] = self.rng_times.standard_exponential(rows.size)
        u = self.rng_channels.random((rows.size, 2))
        if 2 * idle.size <= n:  # the whole arrays, then restore the idle rows
            u_all = np.zeros((n, 2))
            u_all[rows] = u
            new, ch = jump_states(self.unr, act.psi, u_all, pq)
            new[idle] = act.psi[idle]
            act.psi = new
        else:  # few jumps: on their rows
            act.psi[rows], ch_rows = jump_states(self.unr, act.psi[rows], u, pq[rows])
            ch = np.zeros(n, dtype=np.int64)
            ch[rows] = ch_rows
        self.counter.add(act.ids, act.t, ch, jumping)
        if self.record_jumps:
            self.out.jumps.append(
                np.stack([act.ids[rows] + self.offset, act.t[rows], ch[rows]])
            )
