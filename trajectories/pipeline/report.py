"""Heralding statistics report of a run directory: ``report.md`` and PNG figures.

``python -m trajectories.report RUN_DIR`` (or ``write_report(run_dir)``) reads
manifest.json, summary.json and the batch records, one batch at a time (kept per
grid point: K of each machine as int32 and the rho' group sums), computes the exact
references and writes ``RUN_DIR/report.md`` with figures in ``RUN_DIR/figures/``:

* ``pNNN_density.png``   rho' estimated (with jackknife SEs) beside the exact one
* ``pNNN_measures.png``  p_suc and the measures of rho' with 95% CIs, exact markers
* ``pNNN_waiting.png``   law of K: sampled, exact (``attempts_pmf``), geometric
* ``pNNN_banks.png``     P(>= 1 success in a round) against bank size n
* ``sweep.png``          (sweeps) summary quantities against the swept parameter,
                         with exact values on a finer grid

Exit codes of the command: 0 success, 2 missing or invalid run directory, 1 any
other failure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis import figures as fg
from analysis import report as rp
from analysis import sweep_plot
from analysis.heralding_stats import post_selected_state, ratio_groups
from analysis.waiting_times import any_success_probability
from trajectories.exact.attempt_laws import attempts_pmf, round_success_probability
from trajectories.exact.states import herald, steady_state
from trajectories.heralding.measures import reported_measures
from trajectories.pipeline.config import ConfigError, RunConfig, validate
from trajectories.pipeline.rundir import RunDirectory
from trajectories.pipeline.summary import format_estimate

FIGURE_DIR = "figures"
SWEEP_QUANTITIES = (
    "p_suc",
    "negativity",
    "fidelity",
    "chsh",
    "purity",
    "mean_attempts",
    "censored",
    "bank_round_success",
)
FINE_POINTS = 40
"""Points of the finer grid on which the exact sweep curves are drawn."""

UNITS = {
    "attempt_period": f"({rp.TIME_UNIT})",
    "T_A": "(first gap of A)",
    "T_B": "(first gap of A)",
    "g": "(first gap of A)",
    "g1": "(first gap of A)",
    "g2": "(first gap of A)",
    "g3": "(first gap of A)",
    "eps": "(first gap of A)",
    "Gamma_A": "(first gap of A)",
    "Gamma_B": "(first gap of A)",
    "dephasing": "(first gap of A)",
}


class PointRecords:
    """What the figures need from one grid point's batches (bounded memory).

    ``k``: attempts until the first success of each machine in trajectory order
    (int32, censored: attempts + 1); ``groups``: rho' group sums (``ratio_groups``).
    """

    def __init__(self, n_total: int, attempts: int) -> None:
        self.n_total, self.attempts = n_total, attempts
        self.k_parts: list[NDArray[np.int32]] = []
        self.starts: list[int] = []
        self.groups: NDArray[np.complex128] | None = None

    def add(self, attempts: pd.DataFrame, runs: pd.DataFrame) -> None:
        """Fold in one batch."""
        g = ratio_groups(runs, n_total=self.n_total)
        self.groups = g if self.groups is None else self.groups + g
        t0 = int(runs["trajectory"].min())
        k = np.full(len(runs), self.attempts + 1, dtype=np.int32)
        hit = attempts["success"].to_numpy(dtype=bool)
        traj = attempts["trajectory"].to_numpy()[hit] - t0
        att = attempts["attempt"].to_numpy()[hit].astype(np.int32)
        order = np.lexsort((att, traj))  # first success of each machine first
        traj, att = traj[order], att[order]
        first = np.ones(traj.size, dtype=bool)
        first[1:] = traj[1:] != traj[:-1]
        k[traj[first]] = att[first]
        self.k_parts.append(k)
        self.starts.append(t0)

    @property
    def k(self) -> NDArray[np.int32]:
        """K of every machine, in trajectory order."""
        order = np.argsort(self.starts, kind="stable")
        return np.concatenate([self.k_parts[i] for i in order])


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


def _point_label(config: RunConfig, point: RunConfig) -> str:
    return ", ".join(
        f"{key} = {getattr(point, key.split('.')[0])[key.split('.')[1]]}"
        for key in config.sweep
    )


def _point_section(
    p: int,
    config: RunConfig,
    point: RunConfig,
    row: dict[str, Any],
    rundir: RunDirectory,
    fig_dir: Path,
) -> list[str]:
    """Figures and Markdown lines of grid point p."""
    model = point.build_model()
    proto = point.protocol
    T, A, n_bank = proto["attempt_period"], proto["attempts"], proto["machines"]
    N = point.sampling["n_traj"]
    rec = PointRecords(N, A)
    for attempts, runs in rundir.iter_batches(p):
        rec.add(attempts, runs)
    k = rec.k
    exact = herald(steady_state(model), model.machine.filter)
    law = attempts_pmf(model, T, A)
    p1 = round_success_probability(model, T, 1)
    rho_est, rho_se = post_selected_state(rec.groups)
    dims = model.machine.filter.kept_dims
    stem = f"p{p:03d}"
    label = _point_label(config, point)
    where = f" ({label})" if label else ""
    files = {}

    fig = fg.density_matrix_figure(
        rho_est,
        exact.rho_post,
        rho_se,
        dims,
        title=f"post-selected state ρ' in the filtered basis{where}",
    )
    files["density"] = fg.save_figure(fig, fig_dir / f"{stem}_density.png")

    names = [
        "p_suc",
        *(m for m in reported_measures(model.machine, exact.rho_post) if m in row),
    ]
    table = pd.DataFrame(
        [
            {
                "quantity": q,
                "value": row[q],
                "se": row[f"{q}_se"],
                "ci_low": row.get(f"{q}_ci_low", math.nan),
                "ci_high": row.get(f"{q}_ci_high", math.nan),
                "exact": row[f"{q}_exact"],
            }
            for q in names
        ]
    )
    fig = fg.measures_figure(table, title=f"estimates against exact values{where}")
    files["measures"] = fg.save_figure(fig, fig_dir / f"{stem}_measures.png")

    wt = rp.waiting_time_table(k, law.pmf, law.tail, exact.p_suc)
    fig = fg.waiting_time_figure(
        wt, T, exact.p_suc, title=f"attempts until the first success{where}"
    )
    files["waiting"] = fg.save_figure(fig, fig_dir / f"{stem}_waiting.png")

    banks = rp.bank_success_table(k == 1, p1, rp.bank_sizes(k.size, configured=n_bank))
    fig = fg.bank_success_figure(
        banks, p1, n_bank, title=f"first-round success of a bank{where}"
    )
    files["banks"] = fg.save_figure(fig, fig_dir / f"{stem}_banks.png")

    rel = {key: f"{FIGURE_DIR}/{path.name}" for key, path in files.items()}
    head = f"## Grid point {p}: {label}" if label else "## Results"
    lines = [head, ""]
    lines.append(f"- p_suc (Born weights, 1 SE) = {format_estimate(row, 'p_suc')}")
    lines.append(
        "- p_suc from sampled outcomes = " + format_estimate(row, "p_suc_sampled")
    )
    lines.append(
        f"- {N} machines, {A} attempts every T = {T:g} ({rp.TIME_UNIT}), banks of "
        f"{n_bank}; {int(row['n_first_success'])} first-attempt successes"
    )
    if row.get("not_resolved"):
        lines.append(
            f"- **not resolved** (no SE or z is given for these): {row['not_resolved']}"
        )
    z_max = float(np.max(np.abs((rho_est - exact.rho_post).real / _safe(rho_se.real))))
    lines += [
        "",
        "### Post-selected state rho'",
        "",
        "Ratio estimator with Born weights (first attempt of every machine), "
        "delete-one-group jackknife SEs (cells show value ± SE), against the exact "
        f"rho' of Eq. 5; largest |z| over the real parts: {z_max:.2f}.",
        "",
        f"![rho' estimated and exact]({rel['density']})",
        "",
        "### Quality measures",
        "",
        "Estimates with 95% confidence intervals (1.96 SE); diamonds: exact values.",
        "",
        f"![measures]({rel['measures']})",
        "",
        "### Waiting time",
        "",
        f"K = attempts until a machine's first success (waiting time K T). Exact law "
        f"P(K = k) = Tr[S E (F E)^(k-1) rho_ss] (sums to 1 - P(K > {A}) = "
        f"{1 - law.tail:.6g} over k <= {A}) and the geometric law with p = p_suc "
        f"= {exact.p_suc:.6g}; error bars: 1 SE (binomial).",
        "",
        f"![waiting time]({rel['waiting']})",
        "",
        "### Bank size",
        "",
        "P(at least one of n machines succeeds in a round), consecutive machines "
        "grouped into banks of n, against 1 - (1 - p)^n with p = P(K = 1) = "
        f"{p1:.6g}.",
        "",
        rp.markdown_table(
            [
                {
                    "n": r["n"],
                    "banks": r["banks"],
                    "sampled": f"{r['sampled']:.4f} ± {r['sampled_se']:.2g}",
                    "exact": f"{r['exact']:.4f}",
                    "z": f"{r['z']:+.2f}",
                }
                for r in banks.to_dict("records")
            ],
            ["n", "banks", "sampled", "exact", "z"],
        ),
        "",
        f"![bank size]({rel['banks']})",
        "",
        "### Validation",
        "",
        rp.markdown_validation(rp.validation_table(row)),
        "",
    ]
    return lines


def _safe(se: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.where(se > 0, se, np.inf)


def _exact_row(point: RunConfig) -> dict[str, float]:
    """Exact summary quantities of one configuration (for the sweep curves)."""
    model = point.build_model()
    proto = point.protocol
    T, A, n = proto["attempt_period"], proto["attempts"], proto["machines"]
    h = herald(steady_state(model), model.machine.filter)
    out = {"p_suc": h.p_suc, **reported_measures(model.machine, h.rho_post)}
    law = attempts_pmf(model, T, A)
    mean = float(np.arange(1, A + 1) @ law.pmf / law.pmf.sum())
    out |= {
        "mean_attempts": mean,
        "mean_wait": T * mean,
        "censored": law.tail,
        "bank_round_success": float(any_success_probability(h.p_suc, n)),
    }
    return out


def _fine_grid(values: list[Any]) -> list[Any] | None:
    """A finer grid spanning numeric sweep values (None if they are not numbers)."""
    if not sweep_plot.all_numeric(values) or len(set(values)) < 2:
        return None
    lo, hi = float(min(values)), float(max(values))
    if all(isinstance(v, (int, np.integer)) for v in values):
        return sorted(set(np.linspace(lo, hi, FINE_POINTS).round().astype(int)))
    if lo > 0 and hi / lo >= 20:
        grid = np.geomspace(lo, hi, FINE_POINTS)
    else:
        grid = np.linspace(lo, hi, FINE_POINTS)
    return [float(x) for x in grid]


def _sweep_section(
    config: RunConfig, rows: list[dict[str, Any]], fig_dir: Path
) -> list[str]:
    """The sweep figure and its Markdown lines."""
    keys = list(config.sweep)
    param, others = keys[0], keys[1:]
    summary = pd.DataFrame(rows)
    x_col = f"sweep.{param}"
    series = None
    if others:
        summary["series"] = [
            ", ".join(f"{o} = {r[f'sweep.{o}']}" for o in others) for r in rows
        ]
        series = "series"
    curves = None
    fine = _fine_grid(config.sweep[param])
    if fine is not None:
        records = []
        combos = (
            summary.drop_duplicates(subset=[f"sweep.{o}" for o in others])
            if others
            else summary.iloc[:1]
        )
        for _, combo in combos.iterrows():
            for x in fine:
                data = config.to_dict()
                data["sweep"] = {}
                for o in others:
                    sec, name = o.split(".")
                    data[sec][name] = combo[f"sweep.{o}"]
                sec, name = param.split(".")
                data[sec][name] = x
                try:
                    rec = _exact_row(validate(data))
                except ValueError:  # ConfigError or an unsolvable point
                    continue
                rec[x_col] = x
                if series:
                    rec[series] = combo[series]
                records.append(rec)
        curves = pd.DataFrame(records) if records else None
    name = param.split(".")[1]
    fig = sweep_plot.sweep_figure(
        summary,
        x_col,
        SWEEP_QUANTITIES,
        curves=curves,
        series=series,
        param_label=f"{param} {UNITS.get(name, '')}".strip(),
    )
    path = fg.save_figure(fig, fig_dir / "sweep.png")
    cols = [x_col, *(f"sweep.{o}" for o in others)]
    table_rows = []
    for r in rows:
        t = {c: r[c] for c in cols}
        for q in ("p_suc", "negativity", "fidelity", "mean_attempts"):
            if q in r:
                t[q] = f"{r[q]:.5g} ± {r[q + '_se']:.2g} (exact {r[q + '_exact']:.5g})"
        table_rows.append(t)
    shown = [
        *cols,
        *(
            q
            for q in ("p_suc", "negativity", "fidelity", "mean_attempts")
            if q in rows[0]
        ),
    ]
    return [
        "## Sweep",
        "",
        f"Summary quantities against {param}: estimates with 95% CIs, exact values "
        "at the grid points (open diamonds) and on a finer grid (lines).",
        "",
        f"![sweep]({FIGURE_DIR}/{path.name})",
        "",
        rp.markdown_table(table_rows, shown),
        "",
    ]


def _parameters(manifest: dict[str, Any]) -> list[str]:
    cfg = manifest["config"]
    rows = []
    for section in ("machine", "baths", "filter", "protocol", "sampling", "sweep"):
        for key, value in (cfg.get(section) or {}).items():
            rows.append({"section": section, "key": key, "value": value})
    return [rp.markdown_table(rows, ["section", "key", "value"]), ""]


def write_report(run_dir: Path | str) -> Path:
    """Write ``report.md`` and its figures for a finished run directory.

    Parameters
    ----------
    run_dir
        A run directory written by ``python -m trajectories.run``.

    Returns
    -------
    Path
        The path of ``report.md``. Raises ``ConfigError`` for a missing or invalid
        (e.g. unfinished) run directory.
    """
    rundir, manifest, config, rows = _load(Path(run_dir))
    fig_dir = rundir.path / FIGURE_DIR
    fig_dir.mkdir(exist_ok=True)
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
    if config.sweep:
        lines += _sweep_section(config, rows, fig_dir)
    for p, (point, row) in enumerate(zip(points, rows, strict=True)):
        lines += _point_section(p, config, point, row, rundir, fig_dir)
    out = rundir.path / "report.md"
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m trajectories.report RUN_DIR``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m trajectories.report",
        description="Write report.md with figures for a finished run directory.",
    )
    parser.add_argument("run_dir", type=Path, help="a run directory")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        path = write_report(args.run_dir)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(path)
    return 0
