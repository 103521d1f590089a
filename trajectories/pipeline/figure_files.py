"""The report's figures, built first and written together at the end: by this
process alone, or shared with processes forked from it, so that a run on several
local cores writes its figures in about the time of the largest share.

A figure is a few milliseconds to build and ~0.1-0.6 s to render (text layout,
rasterisation, PNG encoding). Forked processes inherit the built figures, so
nothing is pickled; each writes its share (``analysis.figures.save_figure``) and
exits. A share whose process fails is written again by this process, which raises
the error with its traceback.
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

from matplotlib.figure import Figure

from analysis.figures import save_figure

CAN_FORK = sys.platform == "linux"
"""Whether figures may be written by forked processes (as ``backends.LOCAL_BACKEND``:
where forking is cheap and safe)."""


class FigureFiles:
    """Figures to be written as PNG files in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.pending: list[tuple[Figure, Path]] = []

    def add(self, fig: Figure, name: str) -> Path:
        """Queue ``fig`` to be written as ``name``; its path."""
        path = self.directory / name
        self.pending.append((fig, path))
        return path

    def write(self, jobs: int = 1) -> list[Path]:
        """Write every queued figure, on up to ``jobs`` processes; their paths."""
        self.directory.mkdir(parents=True, exist_ok=True)
        shares = _shares(self.pending, jobs if CAN_FORK else 1)
        ctx = multiprocessing.get_context("fork") if len(shares) > 1 else None
        procs = [ctx.Process(target=_write, args=(s,)) for s in shares[1:]]
        for proc in procs:
            proc.start()
        _write(shares[0])
        for proc, share in zip(procs, shares[1:], strict=True):
            proc.join()
            if proc.exitcode != 0:
                _write(share)
        paths = [path for _, path in self.pending]
        self.pending = []
        return paths


def _write(share: list[tuple[Figure, Path]]) -> None:
    for fig, path in share:
        save_figure(fig, path)


def _shares(
    pending: list[tuple[Figure, Path]], jobs: int
) -> list[list[tuple[Figure, Path]]]:
    """At most ``jobs`` shares of about equal work, the largest first: each figure,
    largest first, goes to the share with the least work so far; a figure's work is
    counted as its number of artists (text dominates rendering)."""
    cost = [len(fig.findobj()) for fig, _ in pending]
    n = max(1, min(jobs, len(pending)))
    shares: list[list[tuple[Figure, Path]]] = [[] for _ in range(n)]
    load = [0] * n
    for i in sorted(range(len(pending)), key=lambda i: -cost[i]):
        j = load.index(min(load))
        shares[j].append(pending[i])
        load[j] += cost[i]
    return shares
