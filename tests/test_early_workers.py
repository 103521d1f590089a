"""The warm process of ``python -m trajectories.run`` (``pipeline.early_workers``):
when it starts, what it relays, and that it never outlives or changes a run."""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from conftest import SMALL_RUN, observed_command
from test_cli import records

from trajectories.pipeline import batches
from trajectories.pipeline.backends import _worker_start
from trajectories.pipeline.cli import main
from trajectories.pipeline.early_workers import (
    LOCAL_BACKEND,
    EarlyWorkers,
    _sendable,
    stop_with_parent,
    wanted,
)

pytestmark = pytest.mark.skipif(LOCAL_BACKEND != "fork", reason="needs fork")

SMALL = [*SMALL_RUN, "--no-report"]


@pytest.mark.parametrize(
    ("argv", "n"),
    [
        (["--jobs", "2"], 2),
        (["cfg.toml", "--jobs=3", "--set", "protocol.attempts=5"], 3),
        (["--jobs", "1"], 0),
        (["--jobs", "2", "--backend", "loky"], 0),
        (["--jobs", "2", "--backend=dask", "--scheduler", "tcp://x:1"], 0),
        (["--jobs", "2", "--show-config"], 0),
        (["--jobs", "2", "--help"], 0),
        (["--list-presets"], 0),
        (["--jobs", "two"], 0),  # the command line reports it, with exit 2
        (["--jobs", "0"], 0),
        (["--jobs", "2", "--he"], 0),  # abbreviations of options that run nothing
        (["--jobs", "2", "--show"], 0),
        (["--jobs", "2", "--list"], 0),
        (["--jobs", "2", "--s"], 0),  # ambiguous: refused by the command line
        (["--jobs", "2", "--seed", "3"], 2),
    ],
)
def test_wanted_reads_jobs_and_backend(argv: list[str], n: int) -> None:
    assert wanted(argv) == n


def test_wanted_all_cores() -> None:
    cores = os.cpu_count() or 1
    assert wanted([]) == (cores if cores >= 2 else 0)


def _items(n: int) -> Iterator[tuple[int, int]]:
    for i in range(n):
        yield i, os.getpid()


def _fails() -> Iterator[int]:
    yield 1
    raise ValueError("batch 3 failed")


def _slow() -> Iterator[int]:
    yield 1
    time.sleep(60)
    yield 2


def test_the_job_runs_in_the_warm_process() -> None:
    early = EarlyWorkers()
    got = list(early.run(_items, 3))
    assert [i for i, _ in got] == [0, 1, 2]
    assert {pid for _, pid in got} == {early.process.pid}
    early.close()
    assert early.process.exitcode == 0
    with pytest.raises(RuntimeError, match="have run their job"):
        early.run(_items, 1)


def test_an_error_of_the_job_is_raised_here() -> None:
    early = EarlyWorkers()
    done = early.run(_fails)
    assert next(done) == 1
    with pytest.raises(ValueError, match="batch 3 failed"):
        next(done)
    early.close()
    assert early.process.exitcode == 0


def _refuse() -> None:
    raise TypeError("cannot rebuild")


class _NoRebuild(Exception):
    """Pickles, but does not unpickle (as an exception whose constructor takes
    other arguments than its ``args``)."""

    def __reduce__(self) -> tuple:
        return (_refuse, ())


def test_an_error_that_cannot_be_sent_is_named() -> None:
    """Not picklable, or not unpicklable."""

    class Local(Exception):
        pass

    for err, name in ((Local("x"), "Local: x"), (_NoRebuild("y"), "_NoRebuild: y")):
        sent = _sendable(err)
        assert isinstance(sent, RuntimeError)
        assert name in str(sent)
    plain = ValueError("y")
    assert _sendable(plain) is plain


def test_a_parent_dead_before_the_watch_stops_at_once() -> None:
    calls: list[int] = []
    stop_with_parent(-1, lambda: calls.append(1))  # not this process's parent
    assert calls == [1]


def test_a_dead_warm_process_is_an_error_not_a_hang() -> None:
    early = EarlyWorkers()
    done = early.run(_slow)
    assert next(done) == 1
    os.kill(early.process.pid, signal.SIGKILL)
    with pytest.raises(BrokenProcessPool, match="ended unexpectedly"):
        next(done)
    dead = EarlyWorkers()
    os.kill(dead.process.pid, signal.SIGKILL)
    dead.process.join()
    with pytest.raises(BrokenProcessPool):
        list(dead.run(_items, 1))


def test_leaving_the_job_early_stops_the_warm_process() -> None:
    early = EarlyWorkers()
    done = early.run(_slow)
    assert next(done) == 1
    done.close()
    assert early.process.exitcode == 1  # ended by its SIGTERM handler


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--jobs", "1"], 0),  # a run that does not use them
        (["--jobs", "2", "--backend", "loky"], 0),
        (["--set", "machine.g=-1"], 2),  # bad input: refused before any work
        (["--show-config"], 0),
    ],
)
def test_unused_warm_workers_are_stopped(
    argv: list[str], code: int, tmp_path: Path, capsys
) -> None:
    early = EarlyWorkers()
    assert main([*SMALL, "--out", str(tmp_path / "run"), *argv], early=early) == code
    assert early.process.exitcode is not None
    assert not early.process.is_alive()


def test_warm_workers_give_the_same_records_and_summary(tmp_path: Path) -> None:
    """Against ``--jobs 1``; the warm process forks its two workers and relays."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*SMALL, "--out", str(a), "--jobs", "1"]) == 0
    early = EarlyWorkers()
    assert main([*SMALL, "--out", str(b), "--jobs", "2"], early=early) == 0
    assert early.process.exitcode == 0
    assert records(a).keys() == records(b).keys()
    for name, table in records(a).items():
        assert table.equals(records(b)[name]), name
    summary = json.loads((b / "summary.json").read_text())
    assert summary == json.loads((a / "summary.json").read_text())


def test_a_failing_batch_fails_the_run_once(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """An error in a worker reaches the command line as that error, through the
    warm process: exit 1, no resume offered for an error a resume would repeat."""
    from test_cli import _failing_batch

    from trajectories.pipeline import backends

    monkeypatch.setattr(backends, "run_batch", _failing_batch(ValueError("boom"), 0))
    early = EarlyWorkers()  # forked with the failing batch
    out = tmp_path / "run"
    assert main([*SMALL, "--out", str(out), "--jobs", "2"], early=early) == 1
    err = capsys.readouterr().err
    assert "run failed (ValueError: boom) before any batch finished" in err
    assert early.process.exitcode is not None
    assert not out.exists()


@pytest.mark.parametrize("delay", [0.1, 0.5])
def test_ctrl_c_at_start_leaves_nothing_behind(delay: float, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the process group) while the command imports, ``delay``
    seconds after it forked its warm process: exit 1 and one line, no traceback, no
    process left (the warm process ignores SIGINT and is stopped by the command on
    its way out). Timed from the fork, not from the launch: on a busy machine a
    signal sent before the interpreter runs would test nothing of the command."""
    from test_faults import alive, descendants

    out = str(tmp_path / "run")
    proc = subprocess.Popen(
        [sys.executable, "-m", "trajectories.run", "--jobs", "2", "--out", out],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not descendants(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(delay)
    kids = descendants(proc.pid)
    assert kids, "no warm process"
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err
    assert proc.returncode == 1, err
    said = err.strip()
    assert said == "error: interrupted" or "run stopped (KeyboardInterrupt" in said
    deadline = time.monotonic() + 5
    while alive(kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(kids)


def test_a_warm_process_whose_run_died_at_once_ends(tmp_path: Path) -> None:
    """The run killed right after the fork: the warm process (watching the pid
    recorded before the fork) ends; five tries."""
    import subprocess
    import sys

    from test_faults import alive

    code = (
        "import os, signal; from trajectories.pipeline import early_workers as e; "
        "w = e.start(['--jobs', '2']); print(w.process.pid, flush=True); "
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True)
        warm = {int(out.stdout)}
        deadline = time.monotonic() + 5
        while alive(warm) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(warm)


def test_a_process_that_forgets_close_still_exits() -> None:
    import subprocess
    import sys

    code = (
        "from trajectories.pipeline.early_workers import EarlyWorkers; "
        "e = EarlyWorkers(); raise SystemExit(3)"
    )
    out = subprocess.run([sys.executable, "-c", code], timeout=30)
    assert out.returncode == 3


def test_a_dead_warm_process_is_replaced_before_the_batches(tmp_path: Path) -> None:
    """Dead before the job: the run forks its own workers instead."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*SMALL, "--out", str(a), "--jobs", "1"]) == 0
    early = EarlyWorkers()
    os.kill(early.process.pid, signal.SIGKILL)
    early.process.join()
    assert main([*SMALL, "--out", str(b), "--jobs", "2"], early=early) == 0
    for name, table in records(a).items():
        assert table.equals(records(b)[name]), name


def _fail_share(self: object, batch: object, part: object) -> None:
    raise ValueError("bad share")


def _fail_report() -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("target", "name", "replacement", "said"),
    [
        ("RecordsReader", "add", _fail_share, "run failed (ValueError: bad share)"),
        (None, "_report_writer", _fail_report, "run stopped (KeyboardInterrupt"),
    ],
    ids=["first share", "before any result"],
)
def test_an_error_in_the_run_stops_its_workers_at_once(
    target: str | None,
    name: str,
    replacement: object,
    said: str,
    tmp_path: Path,
    capsys,
    monkeypatch,
) -> None:
    """The parent fails on the first share, or before any result came back: the
    warm process and its workers are stopped before the message counts the saved
    batches."""
    from trajectories.pipeline import cli

    early, seen = EarlyWorkers(), []
    real = cli._stopped

    def stopped(*args: object) -> str:
        seen.append(early.process.exitcode)
        return real(*args)

    monkeypatch.setattr(getattr(cli, target) if target else cli, name, replacement)
    monkeypatch.setattr(cli, "_stopped", stopped)
    out = tmp_path / "run"
    args = [*SMALL_RUN, "--set", "sampling.n_traj=4000", "--out", str(out)]
    assert main([*args, "--jobs", "2"], early=early) == 1  # with its report
    assert said in capsys.readouterr().err
    assert len(seen) == 1
    assert seen[0] is not None, "the workers still ran when the batches were counted"


def test_only_the_starting_process_stops_the_warm_process() -> None:
    """A process forked from the run inherits its exit hook: there ``close`` does
    nothing."""
    early = EarlyWorkers()
    child = os.fork()
    if child == 0:
        try:
            early.close()
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert early.alive
    early.close()
    assert not early.alive


def test_a_job_that_exits_is_an_error_of_the_run() -> None:
    for err in (SystemExit(3), KeyboardInterrupt()):
        sent = _sendable(err)
        assert isinstance(sent, RuntimeError)
        assert type(err).__name__ in str(sent)


def test_kill_9_of_the_run_ends_the_warm_process_quietly(tmp_path: Path) -> None:
    """Its next result meets a broken pipe: it ends with its workers, without a
    traceback on the run's terminal."""
    import subprocess
    import sys

    from test_faults import LONG

    out = tmp_path / "run"
    argv = [*LONG, "--out", str(out), "--jobs", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "trajectories.run", *argv],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list((out / "batches").glob("*.seal.json")):
        assert proc.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    err = proc.stderr.read()  # to end of file: every process of the run is gone
    proc.wait(timeout=10)
    assert "Traceback" not in err, err


def _collector() -> Iterator[tuple[str, bool, int]]:
    yield "warm", gc.isenabled(), gc.get_freeze_count()
    with ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("fork"), initializer=_worker_start
    ) as pool:
        yield "worker", *pool.submit(_collector_state).result()


def _collector_state() -> tuple[bool, int]:
    return gc.isenabled(), gc.get_freeze_count()


def test_the_warm_process_freezes_what_it_loaded_and_its_workers_collect() -> None:
    early = EarlyWorkers()
    got = {where: (on, frozen) for where, on, frozen in early.run(_collector)}
    early.close()
    for where in ("warm", "worker"):  # collecting, what was loaded left alone
        on, frozen = got[where]
        assert on, where
        assert frozen > 10_000, where  # modules and compiled kernel


def _python(code: str, *argv: str) -> subprocess.CompletedProcess:
    """``python -c code *argv``, its output captured."""
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )


COLLECTOR_PROBE = observed_command(
    "trajectories.run",
    "trajectories.pipeline.cli",
    """
def before(module):
    print("loading", gc.isenabled())

def after(module):
    def main(early=None):
        print("running", gc.isenabled(), gc.get_freeze_count() > 10_000)
        return 0
    module.main = main
""",
)


def test_the_command_loads_with_the_collector_off_and_runs_with_it_on() -> None:
    """``python -m trajectories.run`` loads its modules with the collector off, then
    freezes them and turns it on before the run."""
    out = _python(COLLECTOR_PROBE, "--jobs", "1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["loading False", "running True True"]


BLAS_PROBE = """
import json, os, sys
from trajectories.pipeline import early_workers

def blas_threads():
    from threadpoolctl import threadpool_info
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    yield sorted({i["num_threads"] for i in blas})

early = early_workers.start(sys.argv[1:])
import numpy  # noqa: E402, F401  (after the start, as in run.py)
here = next(blas_threads())
there = next(early.run(blas_threads)) if early else None
if early:
    early.close()
print(json.dumps([os.environ.get("OPENBLAS_NUM_THREADS"), here, there]))
"""


BLAS_THREADS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""What sets OpenBLAS's threads (a dask cluster leaves them set in its process)."""


def _blas_probe(argv: list[str], env: dict[str, str]) -> list:
    out = subprocess.run(
        [sys.executable, "-c", BLAS_PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k not in BLAS_THREADS_ENV} | env,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="one usable core: one BLAS thread"
)
def test_a_run_with_forked_workers_computes_on_one_blas_thread() -> None:
    """OpenBLAS starts no thread pool in the run or in its warm process (its threads
    would spin in each forked worker); a user's own setting is kept, and a run
    without forked workers is left alone."""
    assert _blas_probe(["--jobs", "2"], {}) == ["1", [1], [1]]
    assert _blas_probe(["--jobs", "2"], {"OPENBLAS_NUM_THREADS": "2"}) == [
        "2",
        [2],
        [2],
    ]
    unset, threads, none = _blas_probe(["--jobs", "1"], {})
    assert (unset, none) == (None, None)
    assert threads[0] > 1  # the negative control: OpenBLAS's default on >= 2 cores


SWALLOWING_IMPORT = """
import importlib.abc, importlib.util, os, runpy, signal, sys, time

class SwallowingLoader(importlib.abc.Loader):
    # the command line's module, as a library that swallows errors while it loads
    def create_module(self, spec):
        return None

    def exec_module(self, module):
        try:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C now, in mid-import
            time.sleep(0.2)
        except BaseException:
            pass
        module.main = lambda early=None: print("ran") or 0

class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "trajectories.pipeline.cli":
            return importlib.util.spec_from_loader(name, SwallowingLoader())
        return None

sys.meta_path.insert(0, Finder())
sys.argv = ["run", "--jobs", "1"]
runpy.run_module("trajectories.run", run_name="__main__")
"""


def test_ctrl_c_during_the_imports_is_not_lost_in_a_library() -> None:
    """A Ctrl-C that lands while a library loads is held, then acted on: exit 1,
    one line, the run not started. Raised there, a library that clears errors
    would swallow it (the negative control below)."""
    out = _python(SWALLOWING_IMPORT)
    assert (out.returncode, out.stdout, out.stderr) == (1, "", "error: interrupted\n")
    unheld = SWALLOWING_IMPORT.replace(
        "sys.meta_path.insert", "signal.signal = lambda *a: None\nsys.meta_path.insert"
    )
    out = _python(unheld)
    assert (out.returncode, out.stdout) == (0, "ran\n")  # lost: the run went on


HANGING_IMPORT = SWALLOWING_IMPORT.replace(
    """        try:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C now, in mid-import
            time.sleep(0.2)
        except BaseException:
            pass""",
    """        os.kill(os.getpid(), signal.SIGINT)  # held
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)  # pressed again: stops the import
        time.sleep(30)  # an import that hangs""",
)


def test_a_second_ctrl_c_stops_an_import_that_hangs() -> None:
    assert HANGING_IMPORT != SWALLOWING_IMPORT
    start = time.monotonic()
    out = _python(HANGING_IMPORT)
    assert (out.returncode, out.stdout, out.stderr) == (1, "", "error: interrupted\n")
    assert time.monotonic() - start < 20  # not after the 30 s the import hangs


GARBAGE = 1_000_000
"""Dead objects the stand-in for a compiling kernel makes (a real compile: ~5 M)."""


def _frozen() -> Iterator[int]:
    yield gc.get_freeze_count()


def test_a_load_that_made_garbage_collects_before_freezing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A warm process that compiles its kernel (millions of short-lived objects)
    collects as it goes: it does not freeze them for good in it and its workers."""

    def compiled() -> None:
        for _ in range(GARBAGE):
            cycle: list = []
            cycle.append(cycle)

    monkeypatch.setattr(batches, "warm_up", compiled)
    live = len(gc.get_objects())
    early = EarlyWorkers()
    (frozen,) = early.run(_frozen)
    early.close()
    assert frozen < live + GARBAGE // 2
