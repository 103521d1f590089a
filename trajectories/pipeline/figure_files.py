"""The report's figures, queued as builders and made together at the end: by this
process alone, or shared with processes forked from it, so that a run on several
local cores makes its figures in about the time of the largest one's share.

A figure costs ~0.1-0.6 s to build and render (text layout, rasterisation, PNG
encoding), the report's figures together more than a second. Forked processes
inherit the builders and their data, so nothing is pickled. Each process takes the
next figure not yet taken (heaviest first, by the builder's ``weight``), builds it,
writes it (``analysis.figures.save_figure``) and marks it done; a forked process
that fails ends without a traceback, and one that cannot be forked is not waited
for. This process then makes every figure not marked done itself, so an error is
raised here, once, with its traceback.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from analysis.figures import save_figure
from trajectories.pipeline.backends import LOCAL_BACKEND

CAN_FORK = LOCAL_BACKEND == "fork"
"""Whether figures may be made by forked processes: where local workers are forked
too (forking is cheap and safe)."""


@dataclass(frozen=True)
class Pending:
    """A queued figure: how to build it, where to write it, its relative cost."""

    build: Callable[[], Figure]
    path: Path
    weight: float


class FigureFiles:
    """Figures to be written as PNG files in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.pending: list[Pending] = []

    def add(self, build: Callable[[], Figure], name: str, weight: float = 1.0) -> Path:
        """Queue the figure ``build()`` to be written as ``name``; its path.
        ``weight``: its cost relative to a simple one-panel figure."""
        path = self.directory / name
        self.pending.append(Pending(build, path, weight))
        return path

    def write(self, jobs: int = 1) -> list[Path]:
        """Build and write every queued figure, on up to ``jobs`` processes; their
        paths, in the order queued."""
        self.directory.mkdir(parents=True, exist_ok=True)
        items = sorted(self.pending, key=lambda p: -p.weight)
        n_procs = min(jobs, len(items)) if CAN_FORK else 1
        if n_procs > 1:
            _share_out(items, n_procs)
        else:
            for item in items:
                _make(item)
        paths = [p.path for p in self.pending]
        self.pending = []
        return paths


def _make(item: Pending) -> None:
    save_figure(item.build(), item.path)


def _share_out(items: Sequence[Pending], n_procs: int) -> None:
    """Make ``items`` on this process and up to ``n_procs - 1`` forked ones (fewer
    if a fork fails); then make here whatever a failed process left undone."""
    ctx = multiprocessing.get_context("fork")
    taken = ctx.Value("i", 0)  # index of the next item to take (with its lock)
    done = ctx.Array("b", len(items), lock=False)  # each flag set by one process
    args = (items, taken, done)
    procs = []
    try:
        for _ in range(n_procs - 1):
            proc = ctx.Process(target=_take_quietly, args=args)
            proc.start()
            procs.append(proc)
    except OSError:  # no more processes: this one and those started do the work
        pass
    try:
        _take(*args)
    except BaseException:
        with taken.get_lock():  # the others take nothing more
            taken.value = len(items)
        raise
    finally:
        for proc in procs:
            proc.join()
    for item, made in zip(items, done, strict=True):
        if not made:
            _make(item)


def _take(items: Sequence[Pending], taken: Any, done: Any) -> None:
    """Make the next untaken item until none is left."""
    while True:
        with taken.get_lock():
            i = taken.value
            taken.value += 1
        if i >= len(items):
            return
        _make(items[i])
        done[i] = 1


def _take_quietly(items: Sequence[Pending], taken: Any, done: Any) -> None:
    """``_take`` in a forked process: Ctrl-C is left to the parent, and a failure
    ends the process without a traceback (the parent makes the figure again and
    raises the error once)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _take(items, taken, done)
    except BaseException:
        os._exit(1)
