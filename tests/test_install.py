"""A non-editable install of the package runs every preset from any directory:
the presets are package data, found with importlib.resources."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trajectories.pipeline.config import preset_names

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package built and installed (not editable) into a fresh folder."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    return target


@pytest.mark.slow
@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_runs_from_a_scratch_directory(
    installed: Path, tmp_path: Path, preset: str
) -> None:
    env = os.environ | {"PYTHONPATH": str(installed)}
    small = ["sampling.n_traj=400", "sampling.batch_size=200", "protocol.attempts=3"]
    args = [a for s in small for a in ("--set", s)]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "trajectories.run",
            preset,
            "--out",
            "run",
            "--quiet",
            "--no-report",
            *args,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run" / "summary.json").exists()
    where = subprocess.run(
        [sys.executable, "-c", "import trajectories; print(trajectories.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Path(where.strip()).is_relative_to(installed)
