"""The pre-flight work estimate (``pipeline/workload.py``): its jumps against the
records of small runs, its line on stderr, and the refusals above its limits that
--force lifts (exit 2, one line, no run directory)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from trajectories.pipeline import workload
from trajectories.pipeline.cli import main
from trajectories.pipeline.config import RunConfig, load_config

SETS = ["sampling.n_traj=400", "sampling.batch_size=200", "protocol.attempts=10"]
SMALL = [*(f"--set={s}" for s in SETS), "--jobs", "1", "--no-report"]


def _real_jumps(run_dir: Path) -> int:
    runs = pd.concat(
        pd.read_parquet(p) for p in (run_dir / "batches").glob("*_runs.parquet")
    )
    return int(runs.filter(like="n_jumps").to_numpy().sum())


@pytest.mark.parametrize(
    ("source", "sets"),
    [
        (None, []),  # reset model: rate p_A + p_B in every state
        ("lindblad-fig5b", ["sampling.initial='thermal'"]),  # Eq. F1, burn-in
        ("qudit-d4", ["protocol.attempt_period=30.0"]),
    ],
)
def test_estimated_jumps_match_the_records(
    tmp_path: Path, capsys, source: str | None, sets: list[str]
) -> None:
    out = tmp_path / "run"
    args = ([source] if source else []) + [f"--set={s}" for s in sets]
    assert main([*args, *SMALL, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if x.startswith("work estimate"))
    est = workload.estimate(load_config(source, (*sets, *SETS)))
    real = _real_jumps(out)
    assert f"{est.jumps:.2g} jumps" in line
    assert real / 3 < est.jumps < 3 * real, (est.jumps, real)
    assert est.attempt_rows == 400 * 10
    assert est.machine_rows == 400


def test_quiet_prints_no_estimate(tmp_path: Path, capsys) -> None:
    assert main([*SMALL, "--quiet", "--out", str(tmp_path / "q")]) == 0
    assert "work estimate" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("limit", "value", "named"),
    [
        ("cpu_hours", 1e-9, "of CPU"),
        ("disk_gb", 1e-9, "of records"),
        ("batch_gb", 1e-9, "of memory per batch"),
    ],
)
def test_refused_above_a_limit_unless_forced(
    tmp_path: Path, capsys, monkeypatch, limit: str, value: float, named: str
) -> None:
    monkeypatch.setitem(workload.LIMITS, limit, value)
    out = tmp_path / "run"
    assert main([*SMALL, "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: the run needs ")
    assert named in lines[0]
    assert "above the limit of" in lines[0]
    assert "--force" in lines[0]
    assert not out.exists()
    assert main([*SMALL, "--out", str(out), "--force", "--quiet"]) == 0
    assert (out / "summary.json").exists()


def test_a_huge_run_is_refused_before_anything_runs(tmp_path: Path, capsys) -> None:
    """10^8 machines attempting every 10^6 time units for 10^5 attempts: far above
    24 CPU hours and 50 GB."""
    out = tmp_path / "huge"
    args = ["--set", "sampling.n_traj=100000000", "--set", "protocol.attempts=100000"]
    args += ["--set", "protocol.attempt_period=1e6", "--out", str(out), "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "of CPU (estimated), above the limit of 24 h" in err
    assert "--force" in err
    assert not out.exists()


def test_a_large_sweep_is_refused_before_its_grid_is_built(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    def no_grid(self: RunConfig) -> None:
        raise AssertionError("the grid was built")

    monkeypatch.setattr(RunConfig, "points", no_grid)
    values = "[" + ", ".join(f"{0.001 * (i + 1):g}" for i in range(101)) + "]"
    out = tmp_path / "sweep"
    args = ["--set", f"sweep.machine.g={values}", "--set", f"sweep.baths.p_A={values}"]
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: the sweep has 10201 grid points, above the limit of 10000: sweep "
        "fewer values, or pass --force to run it anyway"
    )
    assert not out.exists()
    assert workload.grid_size(load_config(None, tuple(args[1::2]))) == 10201
