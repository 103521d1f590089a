"""The heralding report: report.md, its figures, the command and the plotted numbers.

Measured false-alarm rate: 8.9e-6 per change of random stream (95% upper bound
1.7e-3), that of the default small run it shares with tests/test_cli.py (same
configuration and seed: the stochastic content, which rows are resolved, is checked
there as ``cli:default-run``, `python examples/seed_scan.py --checks 'cli:*' --seeds
45 --first-seed 2000000`); the other checks here are deterministic.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL_RUN, observed_command
from matplotlib.image import imread
from test_early_workers import BLAS_THREADS_ENV

from analysis import report as rp
from analysis.sweep_plot import sweep_figure
from analysis.waiting_times import first_success_attempts
from trajectories.exact.attempt_laws import attempts_pmf, round_success_probability
from trajectories.pipeline import report
from trajectories.pipeline.cli import main as run_main
from trajectories.system.machines import qutrit
from trajectories.system.models import ResetModel

SMALL = [*SMALL_RUN, "--jobs", "1"]
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    assert run_main([*SMALL, "--out", str(out)]) == 0
    return out


def check_figures(out: Path) -> list[str]:
    """Every PNG is referenced by report.md, exists and is a non-empty image."""
    text = (out / "report.md").read_text()
    refs = IMAGE.findall(text)
    on_disk = {f"figures/{p.name}" for p in (out / "figures").glob("*.png")}
    assert refs
    assert set(refs) == on_disk
    for ref in refs:
        image = imread(out / ref)
        assert image.ndim == 3
        assert image.shape[0] > 100
        assert image.shape[1] > 100
        assert np.ptp(image[..., :3]) > 0  # not blank
    return refs


def validation_rows(text: str) -> list[list[str]]:
    block = text.split("### Validation", 1)[1].strip().splitlines()
    assert "abs(z) < 4.5" in block[0]
    rows = []
    for line in block[2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_run_writes_the_report(run_dir: Path) -> None:
    refs = check_figures(run_dir)
    assert {Path(r).name for r in refs} == {
        "p000_density.png",
        "p000_measures.png",
        "p000_waiting.png",
        "p000_banks.png",
        "p000_steady.png",
    }  # started in the steady state, no burn-in: sampled at t = 0 only, no curve
    text = (run_dir / "report.md").read_text()
    assert "No relaxation figure: the ensemble is sampled only at t = 0" in text
    summary = json.loads((run_dir / "summary.json").read_text())[0]
    assert f"p_suc (Born weights, 1 SE) = {summary['p_suc']:.6g}" in text
    assert f"exact {summary['p_suc_exact']:.6g}" in text
    rows = validation_rows(text)
    expected = [label for key, label in rp.VALIDATION_ROWS.items() if key in summary]
    assert [r[0].replace("\\|", "|") for r in rows] == expected
    assert "chsh" in summary  # two-qubit filter: the CHSH row is there
    for r, key in zip(
        rows, [k for k in rp.VALIDATION_ROWS if k in summary], strict=True
    ):
        z = summary[f"{key}_z"]
        if not summary[f"{key}_resolved"]:  # small run: below ESS_MIN
            assert z is None
            assert summary[f"{key}_se"] is None
            assert r[-1] == "not resolved"
            assert r[4] == "–"
            continue
        assert r[-1] == ("pass" if abs(z) < 4.5 else "FAIL")
        assert r[4] == f"{z:+.2f}"
    resolved = [k for k in rp.VALIDATION_ROWS if summary.get(f"{k}_resolved")]
    unresolved = [
        k for k in rp.VALIDATION_ROWS if summary.get(f"{k}_resolved") is False
    ]
    assert resolved
    assert unresolved


def test_report_command(run_dir: Path, tmp_path: Path, capsys) -> None:
    (run_dir / "report.md").unlink()
    for png in (run_dir / "figures").glob("*.png"):
        png.unlink()
    assert report.main([str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / "report.md")
    check_figures(run_dir)
    written = {p.name: p.read_bytes() for p in (run_dir / "figures").glob("*.png")}
    assert report.main([str(run_dir), "--jobs", "1"]) == 0  # one process: same files
    assert {p.name: p.read_bytes() for p in (run_dir / "figures").glob("*.png")} == (
        written
    )
    assert report.main([str(run_dir), "--jobs", "0"]) == 2
    assert capsys.readouterr().err.strip().endswith("must be >= 1, or -1 for all cores")


def test_report_module_runs_with_its_modules_frozen(
    run_dir: Path, tmp_path: Path
) -> None:
    """``python -m trajectories.report``: the report and its exit codes, its modules
    loaded with the collector off, then frozen, and BLAS on one thread (as ``python
    -m trajectories.run`` with forked workers)."""
    probe = observed_command(
        "trajectories.report",
        "trajectories.pipeline.report",
        """
def before(module):
    pass

def after(module):  # write_report, checked when the report is written
    write = module.write_report
    def write_report(*args, **kwargs):
        from threadpoolctl import threadpool_info
        blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        print(gc.isenabled(), gc.get_freeze_count() > 10_000, max(blas))
        return write(*args, **kwargs)
    module.write_report = write_report
""",
    )

    def command(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", probe, *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if k not in BLAS_THREADS_ENV},
        )

    done = command(str(run_dir), "--jobs", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "1", str(run_dir / "report.md")]
    check_figures(run_dir)
    refused = command(str(tmp_path / "missing"))
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: ")
    assert len(refused.stderr.splitlines()) == 1


@pytest.mark.parametrize("state", ["missing", "empty", "unfinished", "not a dir"])
def test_report_command_refuses_an_invalid_directory(
    tmp_path: Path, capsys, state: str, run_dir: Path
) -> None:
    target = tmp_path / "run"
    if state == "empty":
        target.mkdir()
    elif state == "unfinished":
        target.mkdir()
        (target / "manifest.json").write_text((run_dir / "manifest.json").read_text())
    elif state == "not a dir":
        target.write_text("x")
    assert report.main([str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("error: ")
    assert str(target) in err


def test_no_report_flag(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [*SMALL[:3], "--set", "sampling.n_traj=200", "--set", "protocol.attempts=5"]
    assert run_main([*args, "--no-report", "--out", str(out)]) == 0
    assert (out / "summary.json").exists()
    assert not (out / "report.md").exists()


def test_sweep_report(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = [
        *SMALL[:3],
        "--set",
        "sampling.n_traj=400",
        "--set",
        "sampling.batch_size=200",
        "--set",
        "protocol.attempts=8",
        "--set",
        "sweep.baths.p_A=[0.001,0.004]",
        "--set",
        'sampling.initial="thermal"',
        "--set",
        "sampling.burn_in=400.0",
    ]
    assert run_main([*args, "--out", str(out)]) == 0
    refs = check_figures(out)
    assert "figures/sweep.png" in refs
    assert "figures/p001_waiting.png" in refs
    assert "figures/p001_relaxation.png" in refs  # sampled during the burn-in
    text = (out / "report.md").read_text()
    assert "## Sweep" in text
    assert "## Grid point 1: baths.p_A = 0.004" in text


# ---------------------------------------------------------------- plotted numbers


@pytest.fixture(scope="module")
def model() -> ResetModel:
    return ResetModel(qutrit(g=0.01, theta=math.pi / 4, eps=1.5), p_A=0.002, p_B=0.01)


def test_waiting_time_table_overlays_the_exact_law(model: ResetModel) -> None:
    A, T = 12, 10.0
    law = attempts_pmf(model, T, A)
    k = np.array([1, 1, 2, 5, A + 1, A + 1, 3, 1], dtype=np.int32)
    table = rp.waiting_time_table(k, law.pmf, law.tail, 0.05)
    assert table["k"].tolist() == list(range(1, A + 1))
    assert table["exact"].sum() == pytest.approx(1 - law.tail, abs=1e-12)
    assert table.attrs["exact_tail"] == law.tail
    geo = 0.05 * 0.95 ** np.arange(A)
    np.testing.assert_allclose(table["geometric"], geo, rtol=1e-14)
    assert table["geometric"].sum() + table.attrs["geometric_tail"] == pytest.approx(1)
    assert table["sampled"].sum() + table.attrs["sampled_tail"] == pytest.approx(1)
    assert table["sampled"][0] == 3 / 8
    assert table.attrs["sampled_tail"] == 2 / 8
    assert 0 < table.attrs["tv_exact_geometric"] < 1


def test_bank_table_follows_one_minus_one_minus_p_to_the_n(model: ResetModel) -> None:
    p = round_success_probability(model, 200.0, 1)
    rng = np.random.default_rng(3)
    first = rng.random(4096) < p
    sizes = rp.bank_sizes(first.size, configured=4)
    assert sizes[0] == 1
    assert 4 in sizes
    assert first.size // sizes[-1] >= 20
    table = rp.bank_success_table(first, p, sizes)
    n = table["n"].to_numpy()
    np.testing.assert_allclose(table["exact"], 1 - (1 - p) ** n, rtol=1e-12)
    for n_i in (2, 5):
        assert round_success_probability(model, 200.0, n_i) == pytest.approx(
            1 - (1 - p) ** n_i, rel=1e-12
        )
    row = table[table["n"] == 8].iloc[0]
    assert row["sampled"] == first.reshape(-1, 8).any(axis=1).mean()
    assert row["banks"] == 512


def test_validation_table_pass_fail() -> None:
    row = {
        "p_suc": 0.05,
        "p_suc_se": 0.001,
        "p_suc_exact": 0.049,
        "p_suc_z": 1.0,
        "negativity": 0.5,
        "negativity_se": 0.01,
        "negativity_exact": 0.4,
        "negativity_z": 10.0,
        "chsh": 2.5,
        "chsh_se": math.nan,
        "chsh_exact": 2.5,
        "chsh_z": math.nan,
    }
    table = rp.validation_table(row)
    assert table["key"].tolist() == ["p_suc", "negativity", "chsh"]
    assert table["pass"].tolist() == [True, False, False]
    md = rp.markdown_validation(table)
    assert "| FAIL |" in md
    assert "n/a" in md


def test_point_records_match_the_pivot(run_dir: Path) -> None:
    from trajectories.pipeline.rundir import RunDirectory

    rundir = RunDirectory(run_dir)
    rec = report.PointRecords(800, 15)
    ks = []
    for tables in rundir.iter_batches(0):
        attempts = tables["attempts"]
        rec.add(**tables)
        flags = attempts.pivot(index="trajectory", columns="attempt", values="success")
        ks.append(first_success_attempts(flags.to_numpy(dtype=bool)))
    assert rec.k.dtype == np.int32
    np.testing.assert_array_equal(rec.k, np.concatenate(ks))
    summary = json.loads((run_dir / "summary.json").read_text())[0]
    assert rec.k.size == summary["n_traj"]
    assert np.mean(rec.k == 1) == pytest.approx(summary["p_suc_sampled"])


def test_shares_formed_by_workers_equal_those_read_from_disk(run_dir: Path) -> None:
    """A worker forms its batch's share from the tables it has just written
    (``batch_parts.point_share``); ``RecordsReader`` folds the shares handed in out
    of order and reads the others from their sealed files, in the manifest's order:
    the same sums bit for bit as reading every batch at the end (``read_records``).
    A batch with no share whose files are damaged raises its RecordError."""
    from trajectories.pipeline.batch_parts import point_share
    from trajectories.pipeline.batches import run_batch
    from trajectories.pipeline.integrity import RecordError
    from trajectories.pipeline.records import RecordsReader, read_records
    from trajectories.pipeline.rundir import RunDirectory

    rundir = RunDirectory(run_dir)
    config = report._load(run_dir)[2]  # the run's resolved config
    point = config.points()[0]
    batches = rundir.batches_of(0)
    assert len(batches) > 2
    reader = RecordsReader(config, rundir)
    for batch in reversed(batches[1:]):  # out of order, one left to be read
        reader.add(batch, point_share(point, run_batch(point, batch, sweep=False)))
    (late,), (whole,) = reader.records(), read_records(config, rundir)
    for name in ("born", "sampled"):
        np.testing.assert_array_equal(late.p[name], whole.p[name])
    np.testing.assert_array_equal(late.groups, whole.groups)
    np.testing.assert_array_equal(late.k, whole.k)
    assert late.state_sums() is None or late.state_sums().equals(whole.state_sums())
    seal = run_dir / "batches" / f"{batches[0].name}.seal.json"
    saved = seal.read_text()
    try:
        seal.write_text("{}")
        with pytest.raises(RecordError):
            RecordsReader(config, rundir).records()
    finally:
        seal.write_text(saved)


def test_sweep_figure_accepts_curves() -> None:
    summary = pd.DataFrame(
        {
            "x": [1.0, 2.0],
            "p_suc": [0.1, 0.2],
            "p_suc_se": [0.01, 0.01],
            "p_suc_exact": [0.11, 0.19],
        }
    )
    curves = pd.DataFrame(
        {"x": np.linspace(1, 2, 5), "p_suc": np.linspace(0.1, 0.2, 5)}
    )
    fig = sweep_figure(summary, "x", ["p_suc", "negativity"], curves=curves)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 1
