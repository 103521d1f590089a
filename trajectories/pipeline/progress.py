"""What a run shows while it works: a status line during pre-flight, then the
progress bar of the batches (``tqdm``), both on stderr and only on a terminal."""

from __future__ import annotations

import shutil
import sys
from types import TracebackType
from typing import Any, TextIO


class StatusLine:
    """One transient line on ``stream`` (a terminal only, and not ``quiet``): each
    step replaces the last, and the line is cleared on the way out, so nothing of it
    stays on the screen."""

    def __init__(self, quiet: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = not quiet and self.stream.isatty()
        self.shown = False

    def __call__(self, text: str) -> None:
        if not self.enabled:
            return
        width = shutil.get_terminal_size().columns - 1
        self.stream.write(f"\r\033[K{text[:width]}")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Remove the line."""
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False

    def __enter__(self) -> StatusLine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.clear()


def progress_bar(total: int, n_batches: int, quiet: bool) -> Any:
    """The bar of the run's trajectories, shown at once (0 of ``total``, the number
    of batches in its label), on a terminal only and not ``quiet``."""
    from tqdm import tqdm

    # no monitor thread (tqdm starts one even for a disabled bar): local workers and
    # figure writers are forked from this process, best with no other thread
    tqdm.monitor_interval = 0
    return tqdm(
        total=total,
        unit="traj",
        desc=f"{n_batches} batches",
        disable=quiet or not sys.stderr.isatty(),
        file=sys.stderr,
        smoothing=0.1,
    )
