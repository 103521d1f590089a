"""Faults a run must survive: kill -9 of the run and of its process group, damaged,
swapped or foreign batch files, a damaged manifest, and two processes on one run
directory.

No stochastic check: every comparison is of records with records (bit-identical)
or of exit codes and messages.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import SMALL, assert_same_records

from trajectories.pipeline.cli import main
from trajectories.pipeline.report import main as report_main
from trajectories.pipeline.rundir import RunDirectory

LONG = [  # 60 batches: long enough to be interrupted, short enough to finish
    "--quiet",
    "--no-report",
    "--set",
    "sampling.n_traj=24000",
    "--set",
    "sampling.batch_size=400",
    "--set",
    "protocol.attempts=15",
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished small run (4 batches), never modified: tests copy it."""
    out = tmp_path_factory.mktemp("faults") / "run"
    assert main([*SMALL, "--out", str(out), "--jobs", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted records of ``LONG``."""
    out = tmp_path_factory.mktemp("faults") / "long"
    assert main([*LONG, "--out", str(out), "--jobs", "1"]) == 0
    return out


def copy_of(run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(run, out)
    return out


def descendants(pid: int) -> set[int]:
    """Live processes below ``pid``: its children, theirs, and so on (from /proc;
    the workers of a ``--jobs 2`` run are children of its warm process)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    out, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier}
        out |= frontier
    return out


def alive(pids: set[int]) -> set[int]:
    """The pids among ``pids`` that still run (not zombies)."""
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.add(pid)
    return out


def start_long_run(out: Path) -> tuple[subprocess.Popen, set[int]]:
    """A ``--jobs 2`` run in its own process group, once its workers have written a
    batch; with the pids of its descendants (the warm process and its workers)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trajectories.run",
            *LONG,
            "--out",
            str(out),
            "--jobs",
            "2",
        ],
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list((out / "batches").glob("*.seal.json")):
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no batch written"
        time.sleep(0.05)
    kids = descendants(proc.pid)
    assert len(kids) >= 3, f"not a warm process and two workers: {kids}"
    return proc, kids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("target", ["parent", "group"])
def test_kill_9_leaves_no_orphans_and_resumes(
    target: str, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    proc, kids = start_long_run(out)
    if target == "parent":
        os.kill(proc.pid, signal.SIGKILL)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while alive(kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(kids), f"orphans {alive(kids)} still run 10 s after kill -9"
    assert json.loads((out / "manifest.json").read_text())["finished"] is None
    assert (
        main(["--quiet", "--no-report", "--out", str(out), "--resume", "--jobs", "1"])
        == 0
    )
    assert_same_records(reference, out)


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (
            lambda f, other: f.write_bytes(f.read_bytes()[: f.stat().st_size // 2]),
            "does not match its checksum",
        ),
        (lambda f, other: f.write_bytes(b""), "does not match its checksum"),
        (lambda f, other: f.unlink(), "is missing"),
        (lambda f, other: shutil.copy(other, f), "does not match its checksum"),
    ],
    ids=["truncated", "zero-length", "deleted", "swapped"],
)
def test_damaged_batches_are_named_and_recomputed(
    damage, why: str, finished: Path, tmp_path: Path, capsys
) -> None:
    out = copy_of(finished, tmp_path)
    batches = out / "batches"
    damage(batches / "p000_b00001_runs.parquet", batches / "p000_b00002_runs.parquet")
    assert main(["--quiet", "--no-report", "--out", str(out)]) == 2  # never silent
    capsys.readouterr()
    assert report_main([str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"batch p000_b00001 of {out}: its runs file {why}" in err
    assert "--resume" in err
    assert main(["--quiet", "--no-report", "--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"batch p000_b00001: its runs file {why}; recomputing it" in err
    assert_same_records(finished, out)
    assert json.loads((out / "manifest.json").read_text())["finished"]


def test_a_sealed_copy_of_another_batch_is_foreign(
    finished: Path, tmp_path: Path, capsys
) -> None:
    """The copy brings its own seal, so the checksums agree: the rows give it away."""
    out = copy_of(finished, tmp_path)
    batches = out / "batches"
    for src in batches.glob("p000_b00002*"):
        shutil.copy(src, batches / src.name.replace("b00002", "b00001"))
    assert main(["--quiet", "--no-report", "--out", str(out), "--resume"]) == 0
    assert "p000_b00001: its attempts table belongs to another batch" in (
        capsys.readouterr().err
    )
    assert_same_records(finished, out)


def test_the_manifest_records_every_batch(finished: Path) -> None:
    manifest = json.loads((finished / "manifest.json").read_text())
    assert manifest["versions"]["trajectories"]
    for entry in manifest["batches"]:
        assert entry["rows"]["runs"] == entry["size"]
        assert set(entry["sha256"]) == {"attempts", "runs", "states"}
        assert entry["version"] == manifest["versions"]["trajectories"]


def test_a_finished_run_is_not_reopened(finished: Path, tmp_path: Path, capsys) -> None:
    out = copy_of(finished, tmp_path)
    assert main(["--quiet", "--out", str(out), "--resume"]) == 2
    assert "already finished" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text", ["{not json", "[]", '{"config": {}}', "\udcff"], ids=str
)
def test_a_damaged_manifest_is_one_line(
    text: str, finished: Path, tmp_path: Path, capsys
) -> None:
    out = copy_of(finished, tmp_path)
    (out / "manifest.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    assert main(["--quiet", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "manifest.json" in err


def test_another_version_is_not_resumed(finished: Path, tmp_path: Path, capsys) -> None:
    out = copy_of(finished, tmp_path)
    path = out / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["versions"]["trajectories"] = "0.0.1"
    manifest["finished"] = None
    path.write_text(json.dumps(manifest))
    assert main(["--quiet", "--out", str(out), "--resume"]) == 2
    assert "written by trajectories 0.0.1" in capsys.readouterr().err


def test_a_held_directory_is_refused(finished: Path, tmp_path: Path, capsys) -> None:
    out = copy_of(finished, tmp_path)
    with RunDirectory(out).locked():
        assert main(["--quiet", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"in use by another run (pid {os.getpid()}" in err


def test_two_resumes_at_once(reference: Path, tmp_path: Path) -> None:
    """Real processes: one completes the run, the other is refused with exit 2 (the
    lock, or a finished run); none fails, and the records are those of one run."""
    out = tmp_path / "run"
    proc, _ = start_long_run(out)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    resume = [
        sys.executable,
        "-m",
        "trajectories.run",
        "--quiet",
        "--no-report",
        "--out",
        str(out),
        "--resume",
        "--jobs",
        "1",
    ]
    procs = [
        subprocess.Popen(resume, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "in use by another run" in refused or "already finished" in refused
    assert_same_records(reference, out)


@pytest.mark.parametrize("where", ["file", "inside-file"])
def test_out_that_is_a_file(where: str, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("x")
    out = blocker if where == "file" else blocker / "run"
    assert main([*SMALL, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "is a file, not a directory" in err
    assert blocker.read_text() == "x"


def test_a_resume_removes_the_leftovers_of_killed_writes(
    finished: Path, tmp_path: Path
) -> None:
    """Temporary files of a write cut short (a worker killed before its rename) are
    removed by the resume, which recomputes the batch they belonged to; those of a
    live writer, and the report's, are left alone."""
    out = copy_of(finished, tmp_path)
    path = out / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["finished"] = None
    path.write_text(json.dumps(manifest))
    (out / "batches" / "p000_b00001.seal.json").unlink()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftovers = [
        out / "batches" / f".p000_b00001_runs.parquet.{dead.pid}.tmp",
        out / f".summary.json.{dead.pid}.tmp",
    ]
    kept = [out / f".summary.json.{os.getppid()}.tmp", out / ".report.md.tmp"]
    for tmp in leftovers + kept:
        tmp.write_bytes(b"half a write")
    assert main(["--quiet", "--no-report", "--out", str(out), "--resume"]) == 0
    assert not [p for p in leftovers if p.exists()]
    assert all(p.exists() for p in kept)
    for tmp in kept:
        tmp.unlink()
    assert_same_records(finished, out)
