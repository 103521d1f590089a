"""Local workers started at the first line of ``python -m trajectories.run``.

A run with ``--backend fork`` and ``--jobs`` N >= 2 forks one process before its
own imports: the warm process. It imports what a batch needs and loads the compiled
kernel (~0.9 s together) on a core that is otherwise idle while the run imports,
checks its config and imports its report; when the batches arrive it forks the N
workers from itself, warm (``backends._forked``), and relays what they hand back.
Without it, the run's workers would each load the kernel (~0.4 s) after the run's
imports, and the run would import its report while they work.

This module imports only the standard library: it runs before anything else.
``wanted`` reads from the command line only what decides whether to start early;
the command line's own parsing decides the run, so a disagreement costs an unused
start (stopped by ``EarlyWorkers.close``), never a different run.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from typing import Any, NoReturn

BACKENDS = ("fork", "loky", "dask")
LOCAL_BACKEND = "fork" if sys.platform == "linux" else "loky"
"""The default backend: fork where it is safe and cheap (Linux), else loky."""

NO_RUN = ("--help", "--list-presets", "--show-config")
"""Options with which the command prints and exits, running nothing (``-h`` too,
and any abbreviation: an ambiguous one, which the command refuses, starts
nothing either)."""

SERIAL_BLAS_ENV = {"OPENBLAS_NUM_THREADS": "1"}
"""Set (unless already set) before numpy loads in a run whose workers are forked:
each process computes on one BLAS thread (batches, summary and report limit BLAS to
one thread anyway, so that records do not depend on thread counts). OpenBLAS
otherwise starts a thread pool as it loads, whose threads spin for a while at each
start: in the warm process and the run as they import side by side, and again in
every forked worker (~0.2 s of CPU each), on the cores that both processes need."""

WATCH_INTERVAL = 0.5
"""Seconds between a worker's checks that its parent is alive."""

ENDED = "the local worker processes ended unexpectedly"


def _no_run(arg: str) -> bool:
    """Whether ``arg`` is, or abbreviates, an option that runs nothing."""
    if arg == "-h":
        return True
    return (
        arg.startswith("--") and len(arg) > 2 and any(o.startswith(arg) for o in NO_RUN)
    )


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
    if args.backend != "fork" or any(_no_run(a) for a in rest):
        return 0
    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    jobs = (os.cpu_count() or 1) if args.jobs == -1 else args.jobs
    return jobs if jobs >= 2 else 0


class EarlyWorkers:
    """The warm process (forked now) and the pipe to it. It is stopped and reaped
    by ``close``, at the latest when this process exits."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conn, theirs = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve, args=(theirs, self.conn, os.getpid()), name="warm-workers"
        )
        self.process.start()
        theirs.close()
        self.used = self.finished = False
        self.owner = os.getpid()  # processes forked from it later inherit the hook
        atexit.register(self.close)  # before multiprocessing's exit joins it

    @property
    def alive(self) -> bool:
        """Whether the warm process still runs (it can take a job)."""
        return self.process.exitcode is None

    def run(self, fn: Callable[..., Iterator[Any]], *args: Any) -> Generator[Any]:
        """Run the generator ``fn(*args)`` in the warm process (once; its workers
        are forked there) and return a generator over what it yields. The job is
        sent now; an item that is an exception there is raised here. The generator
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

    def _received(self) -> Generator[Any]:
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
        """Stop the warm process and its workers unless they have ended (a SIGTERM,
        which it passes to its workers), and reap it. Only in the process that
        started it."""
        if os.getpid() != self.owner:
            return
        if self.finished:  # it is ending by itself
            self.process.join(timeout=5)
        if self.process.exitcode is None:
            self.process.terminate()
            self.process.join(timeout=5)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()
        self.conn.close()
        atexit.unregister(self.close)


def start(argv: list[str]) -> EarlyWorkers | None:
    """The warm process, if ``argv`` asks for local workers (``wanted``) and it can
    be forked; else None (the run forks its workers later, as usual). Called
    before numpy loads, it sets ``SERIAL_BLAS_ENV`` for the run and its workers."""
    if not wanted(argv):
        return None
    serial_blas()
    try:
        return EarlyWorkers()
    except OSError:  # no process to spare: the run starts its workers later
        return None


def serial_blas() -> None:
    """Set ``SERIAL_BLAS_ENV`` where it is not set (before numpy loads, to act)."""
    for name, value in SERIAL_BLAS_ENV.items():
        os.environ.setdefault(name, value)


def _serve(conn: Connection, ours: Connection, parent: int) -> None:
    """The warm process: load, wait for the job, run it, send what it yields."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle
    signal.signal(signal.SIGTERM, _end_with_workers)
    ours.close()  # the run's end: a run that ends without a job closes the pipe
    stop_with_parent(parent, lambda: os.kill(os.getpid(), signal.SIGTERM))
    _load()
    try:
        fn, args = conn.recv()
    except EOFError:  # the run ended without a job for its workers
        return
    except Exception as err:  # the job could not be read here
        conn.send(("error", _sendable(err)))
        return
    try:
        try:
            for item in fn(*args):
                conn.send(("item", item))
        except BaseException as err:
            conn.send(("error", _sendable(err)))
            return
        conn.send(("end", None))
    except OSError:  # the pipe broke: the run is gone, and so are we
        _end_with_workers(signal.SIGTERM, None)


def _load() -> None:
    """Load what the workers need before they are forked: the modules of a batch
    and of its records, and the compiled kernel. A failure is left to the batches,
    which meet it again and report it.

    The modules load with the collector off, then are frozen (``gc.freeze``, the
    ``gc`` module's recipe for a process that forks: neither this process's
    collections nor its workers' scan them again, so the workers share their pages
    instead of copying them). The kernel loads with the collector on: compiled
    afresh (the first run after an install) it makes millions of short-lived
    objects; what it keeps is frozen too.
    """
    gc.disable()
    try:
        from trajectories.pipeline import backends, rundir  # noqa: F401
        from trajectories.pipeline.batches import warm_up
    except Exception:
        return
    finally:
        gc.freeze()
        gc.enable()
    try:
        warm_up()
    except Exception:
        pass
    gc.freeze()


def _sendable(err: BaseException) -> Exception:
    """``err`` if it is an Exception that survives the pipe (pickled and
    unpickled), else a RuntimeError naming it (a SystemExit or KeyboardInterrupt
    of the job is not the run's own)."""
    if not isinstance(err, Exception):
        return RuntimeError(f"{type(err).__name__}: {err}")
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:
        return RuntimeError(f"{type(err).__name__}: {err}")
    return err


def _end_with_workers(signum: int, frame: object) -> None:
    """SIGTERM in the warm process: end its workers (batches lost, not damaged:
    records are written atomically), then itself. A worker forked too late to be
    seen here finds its parent gone as it starts (``stop_with_parent``)."""
    for proc in multiprocessing.active_children():
        proc.terminate()
    os._exit(1)


def stop_with_parent(
    parent: int, stop: Callable[[], object], interval: float = WATCH_INTERVAL
) -> None:
    """Call ``stop`` once ``parent``, the pid of the process that forked this one
    (recorded before the fork), is no longer its parent: at once if it has already
    died, else within ``interval`` seconds of its death (a daemon thread)."""
    if os.getppid() != parent:
        stop()
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        stop()

    threading.Thread(target=watch, name="stop-with-parent", daemon=True).start()
