"""Local workers started at the first line of ``python -m trajectories.run``.

A run with ``--backend fork`` and ``--jobs`` N >= 2 forks one process before its
own imports. That process imports what a batch needs and loads the compiled kernel
(~1.1 s together) on a core that is otherwise idle while the run imports, checks its
config and prepares its directory; when the batches arrive it forks the N workers
from itself, warm (``backends.forked``), and relays what they hand back. The run's
critical path loses the kernel's load (~0.4 s) and the run's own report imports
(~0.3 s), which it makes while the workers warm up.

This module imports only the standard library: it runs before anything else.
``wanted`` reads the command line for the two options that decide whether to start
early, and nothing else; the command line's own parsing decides the run, so a
disagreement costs an unused start (stopped by ``EarlyWorkers.close``), never a
different run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from typing import Any, NoReturn

BACKENDS = ("fork", "loky", "dask")
LOCAL_BACKEND = "fork" if sys.platform == "linux" else "loky"
"""The default backend: fork where it is safe and cheap (Linux), else loky."""

NO_RUN = ("-h", "--help", "--list-presets", "--show-config")
"""Options with which the command prints and exits, running nothing."""

WATCH_INTERVAL = 0.5
"""Seconds between a worker's checks that its parent is alive."""

ENDED = "the local worker processes ended unexpectedly"


class _Sketch(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def wanted(argv: list[str]) -> int:
    """The number of local workers that ``argv`` asks to fork (0: start none)."""
    sketch = _Sketch(add_help=False)
    sketch.add_argument("--jobs", type=int, default=-1)
    sketch.add_argument("--backend", default=LOCAL_BACKEND)
    try:
        args, rest = sketch.parse_known_args(argv)
    except ValueError:
        return 0
    if args.backend != "fork" or any(a in NO_RUN for a in rest):
        return 0
    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    jobs = (os.cpu_count() or 1) if args.jobs == -1 else args.jobs
    return jobs if jobs >= 2 else 0


class EarlyWorkers:
    """The warm process (forked now) and the pipe to it."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conn, theirs = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(theirs,), name="warm-workers")
        self.process.start()
        theirs.close()
        self.used = self.finished = False

    def run(self, fn: Callable[..., Iterator[Any]], *args: Any) -> Iterator[Any]:
        """Run the generator ``fn(*args)`` in the warm process (once; its workers
        are forked there) and return an iterator over what it yields. The job is
        sent now; an item that is an exception there is raised here. The iterator
        stops the warm process and its workers if it is left early."""
        if self.used:
            raise RuntimeError("the early workers have run their job")
        self.used = True
        try:
            self.conn.send((fn, args))
        except OSError:  # the warm process has ended: the pipe is closed
            self.close()
            raise BrokenProcessPool(ENDED) from None
        return self._received()

    def _received(self) -> Iterator[Any]:
        finished = False
        try:
            while True:
                try:
                    kind, value = self.conn.recv()
                except EOFError:
                    raise BrokenProcessPool(ENDED) from None
                if kind == "item":
                    yield value
                    continue
                finished = self.finished = True
                if kind == "error":
                    raise value
                return
        finally:
            if not finished:  # interrupted, or the workers died: stop them now
                self.close()

    def close(self) -> None:
        """Stop the warm process and its workers unless they have ended, and reap
        it (a SIGTERM, which it passes to its workers)."""
        if self.finished:  # it is ending by itself
            self.process.join(timeout=5)
        if self.process.exitcode is None:
            self.process.terminate()
        self.process.join(timeout=5)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()


def start(argv: list[str]) -> EarlyWorkers | None:
    """The warm process, if ``argv`` asks for local workers (``wanted``) and it can
    be forked; else None (the run forks its workers later, as usual)."""
    if not wanted(argv):
        return None
    try:
        return EarlyWorkers()
    except OSError:  # no process to spare: the run starts its workers later
        return None


def _serve(conn: Connection) -> None:
    """The warm process: load, wait for the job, run it, send what it yields."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle
    signal.signal(signal.SIGTERM, _end_with_workers)
    _watch_parent()
    _load()
    try:
        fn, args = conn.recv()
    except EOFError:  # the run did not need its workers
        return
    except Exception as err:  # the job could not be read here
        conn.send(("error", _picklable(err)))
        return
    try:
        for item in fn(*args):
            conn.send(("item", item))
    except Exception as err:
        conn.send(("error", _picklable(err)))
        return
    conn.send(("end", None))


def _load() -> None:
    """Load what the workers need before they are forked: the modules of a batch
    and of its records, and the compiled kernel. A failure is left to the batches,
    which meet it again and report it."""
    try:
        from trajectories.pipeline import backends, rundir  # noqa: F401
        from trajectories.pipeline.batches import warm_up

        warm_up()
    except Exception:
        pass


def _picklable(err: Exception) -> Exception:
    """``err``, or a RuntimeError naming it if it cannot be sent."""
    try:
        pickle.dumps(err)
    except Exception:
        return RuntimeError(f"{type(err).__name__}: {err}")
    return err


def _end_with_workers(signum: int, frame: object) -> None:
    """SIGTERM in the warm process: end its workers (batches lost, not damaged:
    records are written atomically), then itself."""
    for proc in multiprocessing.active_children():
        proc.terminate()
    os._exit(1)


def _watch_parent(interval: float = WATCH_INTERVAL) -> None:
    """End this process and its workers within ``interval`` seconds of its parent's
    death (a ``kill -9`` of the run): a daemon thread that sends it SIGTERM."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="stop-with-parent", daemon=True).start()
