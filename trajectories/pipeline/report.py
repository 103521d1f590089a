"""Heralding statistics report of a run directory: ``report.md`` and PNG figures.

``python -m trajectories.report RUN_DIR`` (or ``write_report(run_dir)``) reads
manifest.json, summary.json and the batch records, one batch at a time
(``records.read_records``; a run passes the records it already read), computes the
exact references and writes ``RUN_DIR/report.md`` with figures in
``RUN_DIR/figures/`` (``report_sections``):

* ``pNNN_density.png``    rho' estimated (value ± jackknife SE in each cell)
                          beside the exact one; Im rho' only where it is not zero
* ``pNNN_measures.png``   p_suc and the measures of rho' with 95% CIs, exact markers
* ``pNNN_waiting.png``    law of K: sampled, exact (``attempts_pmf``), geometric
* ``pNNN_banks.png``      P(>= 1 success in a round) against bank size n, for the
                          sizes the sample resolves (``BANK_OUTCOMES_MIN``)
* ``pNNN_relaxation.png`` p_suc and populations during the burn-in against
                          e^{Lt} rho_0 (when the ensemble is sampled at several times)
* ``pNNN_steady.png``     the sampled steady state beside the exact one
* ``sweep.png``           (sweeps) summary quantities against the swept parameter,
                          with exact values on a finer grid

Exit codes of the command: 0 success, 2 missing or invalid run directory, 1 any
other failure.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from analysis import report as rp
from trajectories.pipeline.backends import local_jobs
from trajectories.pipeline.config import ConfigError, RunConfig, validate
from trajectories.pipeline.exit_codes import OneLineParser, exit_code, parse_or_exit
from trajectories.pipeline.figure_files import FigureFiles
from trajectories.pipeline.records import PointRecords, read_records
from trajectories.pipeline.report_sections import (
    FIGURE_DIR,
    point_section,
    sweep_section,
)
from trajectories.pipeline.rundir import RunDirectory
from trajectories.pipeline.summary import SERIAL_BLAS


def _load(run_dir: Path) -> tuple[RunDirectory, dict, RunConfig, list[dict]]:
    """Manifest, config and summary rows; ConfigError for an invalid directory."""
    path = Path(run_dir)
    if not path.is_dir():
        raise ConfigError(f"{path}: no such run directory")
    rundir = RunDirectory(path)
    if not rundir.manifest_path.exists():
        raise ConfigError(f"{path}: no manifest.json, not a run directory")
    summary = path / "summary.json"
    if not summary.exists():
        raise ConfigError(
            f"{path}: no summary.json, the run is unfinished "
            f"(complete it with: python -m trajectories.run --out {path} --resume)"
        )
    try:
        manifest = json.loads(rundir.manifest_path.read_text())
        rows = json.loads(summary.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: unreadable JSON ({err})") from None
    if not isinstance(manifest, dict) or "config" not in manifest:
        raise ConfigError(f"{path}: manifest.json has no config")
    config = validate(manifest["config"])
    if len(rows) != len(config.points()):
        raise ConfigError(
            f"{path}: summary.json has {len(rows)} rows for "
            f"{len(config.points())} grid points"
        )
    rows = [{k: (math.nan if v is None else v) for k, v in r.items()} for r in rows]
    return rundir, manifest, config, rows


def _parameters(manifest: dict[str, Any]) -> list[str]:
    cfg = manifest["config"]
    rows = []
    for section in ("machine", "baths", "filter", "protocol", "sampling", "sweep"):
        for key, value in (cfg.get(section) or {}).items():
            rows.append({"section": section, "key": key, "value": value})
    return [rp.markdown_table(rows, ["section", "key", "value"]), ""]


def write_report(
    run_dir: Path | str, records: list[PointRecords] | None = None, jobs: int = 1
) -> Path:
    """Write ``report.md`` and its figures for a finished run directory.

    Parameters
    ----------
    run_dir
        A run directory written by ``python -m trajectories.run``.
    records
        Its records (``read_records``), if already read; else they are read here.
    jobs
        Processes that write the figures (``FigureFiles.write``: forked from this
        one, on Linux).

    Returns
    -------
    Path
        The path of ``report.md``. Raises ``ConfigError`` for a missing or invalid
        (e.g. unfinished) run directory.
    """
    rundir, manifest, config, rows = _load(Path(run_dir))
    figures = FigureFiles(rundir.path / FIGURE_DIR)
    points = config.points()
    machine = config.machine
    lines = [
        f"# Heralding report: {rundir.path.name}",
        "",
        f"{machine['kind']} machine, {config.baths['model']} bath model; "
        f"started {manifest.get('started')}, finished {manifest.get('finished')}, "
        f"seed {manifest.get('seed')}. Times in units of {rp.TIME_UNIT} "
        "(energies in units of the first gap of A, hbar = k_B = 1).",
        "",
        "## Machine and parameters",
        "",
        *_parameters(manifest),
    ]
    if records is None:
        records = read_records(config, rundir)
    with threadpool_limits(limits=SERIAL_BLAS):
        if config.sweep:
            lines += sweep_section(config, rows, figures)
        for p, (point, row, rec) in enumerate(zip(points, rows, records, strict=True)):
            lines += point_section(p, config, point, row, rec, figures)
        figures.write(jobs)
    out = rundir.path / "report.md"
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m trajectories.report RUN_DIR``; returns the exit code."""
    parser = OneLineParser(
        prog="python -m trajectories.report",
        description="Write report.md with figures for a finished run directory.",
    )
    parser.add_argument("run_dir", type=Path, help="a run directory")
    parser.add_argument(
        "--jobs",
        type=int,
        default=-1,
        help="processes that write the figures (default -1: all local cores)",
    )
    args = parse_or_exit(lambda: parser.parse_args(argv))
    if isinstance(args, int):
        return args

    def report() -> int:
        print(write_report(args.run_dir, jobs=local_jobs(args.jobs)))
        return 0

    return exit_code(report)
