"""The default run's batch records, bit for bit: a checksum stored from the records
before the package was laid out in sub-packages keeps every later change to the
pipeline, the engine or the heralding honest about what it changes.

The records differ from those of the first layout (commit 0b311ad) since the
steady-state ensemble is drawn from the Jacobi-scaled decomposition of each block of
rho (``engine/initial_states.py``) instead of the eigenvectors of rho, and Born
probabilities are kept in float64: both change the draws, not their law.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trajectories.pipeline.cli import main
from trajectories.pipeline.summary import format_summary

CHECKSUM = Path(__file__).parent / "data" / "default_records.sha256"


def records_digest(run_dir: Path) -> str:
    """SHA-256 over the name, column names and values of every attempts and runs
    table (the states tables, added later, are checked by tests/test_relaxation.py)."""
    h = hashlib.sha256()
    paths = (run_dir / "batches").glob("*.parquet")
    for path in sorted(p for p in paths if p.stem.endswith(("_attempts", "_runs"))):
        table = pd.read_parquet(path)
        h.update(path.name.encode())
        for name in table.columns:
            col = table[name]
            values = (
                col.cat.codes if isinstance(col.dtype, pd.CategoricalDtype) else col
            )
            h.update(name.encode())
            h.update(np.ascontiguousarray(values.to_numpy()).tobytes())
    return h.hexdigest()


@pytest.mark.slow
def test_default_run_records_are_unchanged(tmp_path: Path) -> None:
    """The records, and the summary the README prints for the first set-up command."""
    out = tmp_path / "run"
    assert main(["--out", str(out), "--jobs", "2", "--quiet", "--no-report"]) == 0
    assert records_digest(out) == CHECKSUM.read_text().split()[0]
    assert_readme_shows(out)


def assert_readme_shows(out: Path) -> None:
    """Every line of the run's terminal summary (but its directory) is in README.md."""
    rows = json.loads((out / "summary.json").read_text())
    rows = [{k: math.nan if v is None else v for k, v in r.items()} for r in rows]
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for line in format_summary(rows, out).splitlines()[:-1]:
        assert line in readme, line
