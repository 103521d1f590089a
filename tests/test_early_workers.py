"""The warm process of ``python -m trajectories.run`` (``pipeline.early_workers``):
when it starts, what it relays, and that it never outlives or changes a run."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from conftest import SMALL_RUN
from test_cli import records

from trajectories.pipeline.cli import main
from trajectories.pipeline.early_workers import (
    LOCAL_BACKEND,
    EarlyWorkers,
    _picklable,
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


def test_an_error_that_cannot_be_sent_is_named() -> None:
    class Local(Exception):
        pass

    err = _picklable(Local("x"))
    assert isinstance(err, RuntimeError)
    assert "Local: x" in str(err)
    plain = ValueError("y")
    assert _picklable(plain) is plain


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


@pytest.mark.parametrize("delay", [0.2, 0.6])
def test_ctrl_c_at_start_leaves_nothing_behind(delay: float, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the process group) while the command imports: one line,
    no traceback, no process left (the warm process ignores SIGINT and is stopped
    by the command on its way out)."""
    import subprocess
    import sys

    from test_faults import alive, descendants

    out = str(tmp_path / "run")
    proc = subprocess.Popen(
        [sys.executable, "-m", "trajectories.run", "--jobs", "2", "--out", out],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    time.sleep(delay)
    kids = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err
    assert (proc.returncode, err.strip()) == (130, "interrupted") or (
        proc.returncode == 1 and "run stopped (KeyboardInterrupt" in err
    ), err
    deadline = time.monotonic() + 5
    while alive(kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(kids)
