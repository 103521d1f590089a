"""Sections of the heralding report: one per grid point, and the sweep.

A point section writes four figures (rho' beside the exact state, the measures with
their intervals, the law of K, the first-round success of a bank against its size)
and the Markdown around them, from the summary row and the point's ``PointRecords``
(no batch file is read here). The sweep section draws the summary against the swept
parameter, with exact curves on a finer grid.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.typing import NDArray

from analysis import figures as fg
from analysis import report as rp
from analysis import sweep_plot
from analysis.density_plot import density_matrix_figure
from analysis.heralding_stats import post_selected_state
from trajectories.exact.states import Herald, herald
from trajectories.heralding.measures import reported_measures
from trajectories.pipeline.config import RunConfig, validate
from trajectories.pipeline.figure_files import FigureFiles
from trajectories.pipeline.records import PointRecords
from trajectories.pipeline.references import PointReference
from trajectories.pipeline.report_relaxation import relaxation_section
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
    "T_A": "(units of the first gap of A)",
    "T_B": "(units of the first gap of A)",
    "g": "(units of the first gap of A)",
    "g1": "(units of the first gap of A)",
    "g2": "(units of the first gap of A)",
    "g3": "(units of the first gap of A)",
    "eps": "(units of the first gap of A)",
    "Gamma_A": "(units of the first gap of A)",
    "Gamma_B": "(units of the first gap of A)",
    "dephasing": "(units of the first gap of A)",
}


def _point_label(config: RunConfig, point: RunConfig) -> str:
    return ", ".join(f"{key} = {point.value(key)}" for key in config.sweep)


class _Point:
    """What the figures and lines of one grid point share."""

    def __init__(
        self, p: int, config: RunConfig, point: RunConfig, rec: PointRecords
    ) -> None:
        ref = PointReference.of(point)
        self.model = ref.model
        proto = point.protocol
        self.T, self.A = proto.attempt_period, proto.attempts
        self.n_bank, self.N = proto.machines, point.sampling.n_traj
        self.k = rec.k
        self.exact: Herald = ref.first  # at the first attempt
        self.p_stationary = herald(ref.rho_ss, self.model.machine.filter).p_suc
        self.law = ref.law  # K from the state after the burn-in
        self.p1 = float(ref.law.pmf[0])
        self.rho, self.rho_se = post_selected_state(rec.groups)
        self.stem = f"p{p:03d}"
        self.label = _point_label(config, point)
        self.where = f" ({self.label})" if self.label else ""


def point_section(
    p: int,
    config: RunConfig,
    point: RunConfig,
    row: dict[str, Any],
    rec: PointRecords,
    figures: FigureFiles,
) -> list[str]:
    """Figures and Markdown lines of grid point p."""
    pt = _Point(p, config, point, rec)
    banks = rp.bank_success_table(
        pt.k == 1, pt.p1, rp.bank_sizes(pt.k.size, configured=pt.n_bank)
    )
    files = _point_figures(pt, row, banks, figures)
    rel = {key: f"{FIGURE_DIR}/{path.name}" for key, path in files.items()}
    head = f"## Grid point {p}: {pt.label}" if pt.label else "## Results"
    return [
        head,
        "",
        *_headline(pt, row),
        *_figure_lines(pt, rel),
        *_bank_lines(banks),
        f"![bank size]({rel['banks']})",
        "",
        *relaxation_section(pt.stem, point, row, rec, figures),
        "### Validation",
        "",
        rp.markdown_validation(rp.validation_table(row)),
        "",
    ]


def _point_figures(
    pt: _Point, row: dict[str, Any], banks: pd.DataFrame, figures: FigureFiles
) -> dict[str, Path]:
    """The four figures of a grid point, queued; their paths by name."""
    builders = {
        "density": partial(
            density_matrix_figure,
            pt.rho,
            pt.exact.rho_post,
            pt.rho_se,
            pt.model.machine.filter.kept_dims,
            title=f"post-selected state ρ' in the filtered basis{pt.where}",
        ),
        "measures": partial(
            fg.measures_figure,
            _measures_table(pt, row),
            title=f"estimates against exact values{pt.where}",
        ),
        "waiting": partial(
            fg.waiting_time_figure,
            rp.waiting_time_table(pt.k, pt.law.pmf, pt.law.tail, pt.p_stationary),
            pt.T,
            pt.p_stationary,
            title=f"attempts until the first success{pt.where}",
        ),
        "banks": partial(
            fg.bank_success_figure,
            banks,
            pt.p1,
            pt.n_bank,
            title=f"first-round success of a bank{pt.where}",
        ),
    }
    return {
        name: figures.add(build, f"{pt.stem}_{name}.png", WEIGHTS[name])
        for name, build in builders.items()
    }


WEIGHTS = {"density": 1.0, "measures": 1.0, "waiting": 1.0, "banks": 0.5, "sweep": 2.0}
"""Cost of building and writing each figure relative to the measures figure
(measured on the default run: ~0.2-0.3 s each, banks 0.1 s)."""


def _measures_table(pt: _Point, row: dict[str, Any]) -> pd.DataFrame:
    """p_suc and the measures of rho' in the row, with their intervals."""
    measured = reported_measures(pt.model.machine, pt.exact.rho_post)
    names = ["p_suc", *(m for m in measured if m in row)]
    return pd.DataFrame(
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


def _headline(pt: _Point, row: dict[str, Any]) -> list[str]:
    """p_suc both ways, the run's size and the quantities not resolved."""
    lines = [
        f"- p_suc (Born weights, 1 SE) = {format_estimate(row, 'p_suc')}",
        "- p_suc from sampled outcomes = " + format_estimate(row, "p_suc_sampled"),
        f"- {pt.N} machines, {pt.A} attempts every T = {pt.T:g} ({rp.TIME_UNIT}), "
        f"banks of {pt.n_bank}; {int(row['n_first_success'])} first-attempt "
        "successes",
    ]
    if row.get("not_resolved"):
        lines.append(
            f"- **not resolved** (no SE or z is given for these): {row['not_resolved']}"
        )
    return lines


def _figure_lines(pt: _Point, rel: dict[str, str]) -> list[str]:
    """The Markdown of the density, measures, waiting-time and bank figures."""
    dev = (pt.rho - pt.exact.rho_post).real / _safe(pt.rho_se.real)
    return [
        "",
        "### Post-selected state rho'",
        "",
        "Ratio estimator with Born weights (first attempt of every machine), "
        "delete-one-group jackknife SEs (cells show value ± SE), against the exact "
        f"rho' of Eq. 5; largest |z| over the real parts: {np.abs(dev).max():.2f}.",
        "",
        f"![rho' estimated and exact]({rel['density']})",
        "",
        "### Quality measures",
        "",
        "Estimates with 95% confidence intervals; diamonds: exact values.",
        "",
        f"![measures]({rel['measures']})",
        "",
        "### Waiting time",
        "",
        "K = attempts until a machine's first success (waiting time K T). Exact law "
        f"P(K = k) = Tr[S E (F E)^(k-1) rho_0] (rho_0 the state after the burn-in; "
        f"sums to 1 - P(K > {pt.A}) = {1 - pt.law.tail:.6g} over k <= {pt.A}) and "
        f"the geometric law with the stationary p = p_suc = {pt.p_stationary:.6g}; "
        "error bars: 1 SE (binomial).",
        "",
        f"![waiting time]({rel['waiting']})",
        "",
        "### Bank size",
        "",
        "P(at least one of n machines succeeds in a round), consecutive machines "
        "grouped into banks of n, against 1 - (1 - p)^n with p = P(K = 1) = "
        f"{pt.p1:.6g}; 1 SE in the table, 95% CIs in the figure. Shown are the bank "
        f"sizes the sample resolves: at least {rp.BANK_OUTCOMES_MIN} banks that "
        "succeed and as many that fail.",
        "",
    ]


def _bank_lines(banks: pd.DataFrame) -> list[str]:
    """The table of the resolved bank sizes and a line on those left out."""
    rows = [
        {
            "n": r["n"],
            "banks": r["banks"],
            "sampled": f"{r['sampled']:.4f} ± {r['sampled_se']:.2g}",
            "exact": f"{r['exact']:.4f}",
            "z": f"{r['z']:+.2f}",
        }
        for r in banks.to_dict("records")
        if r["resolved"]
    ]
    note = rp.unresolved_banks_note(banks)
    lines = [rp.markdown_table(rows, ["n", "banks", "sampled", "exact", "z"]), ""]
    if not rows:
        lines = ["No bank size is resolved by this sample.", ""]
    return [*lines, *([note, ""] if note else [])]


def _safe(se: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.where(se > 0, se, np.inf)


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


def _sweep_figure(
    config: RunConfig,
    summary: pd.DataFrame,
    x_col: str,
    series: str | None,
    param_label: str,
) -> Figure:
    """The sweep figure, with exact curves on a finer grid."""
    return sweep_plot.sweep_figure(
        summary,
        x_col,
        SWEEP_QUANTITIES,
        curves=_exact_curves(config, summary, series),
        series=series,
        param_label=param_label,
    )


def sweep_section(
    config: RunConfig, rows: list[dict[str, Any]], figures: FigureFiles
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
    build = partial(
        _sweep_figure,
        config,
        summary,
        x_col,
        series,
        f"{param} {UNITS.get(param.split('.')[1], '')}".strip(),
    )
    path = figures.add(build, "sweep.png", WEIGHTS["sweep"])
    return [
        "## Sweep",
        "",
        f"Summary quantities against {param}: estimates with 95% CIs, exact values "
        "at the grid points (open diamonds) and on a finer grid (lines).",
        "",
        f"![sweep]({FIGURE_DIR}/{path.name})",
        "",
        *_sweep_table(rows, [x_col, *(f"sweep.{o}" for o in others)]),
    ]


def _exact_curves(
    config: RunConfig, summary: pd.DataFrame, series: str | None
) -> pd.DataFrame | None:
    """Exact summary quantities on a finer grid of the first swept parameter, for
    each combination of the others (None if it is not numeric)."""
    param, *others = list(config.sweep)
    fine = _fine_grid(config.sweep[param])
    if fine is None:
        return None
    combos = (
        summary.drop_duplicates(subset=[f"sweep.{o}" for o in others])
        if others
        else summary.iloc[:1]
    )
    records = []
    for _, combo in combos.iterrows():
        for x in fine:
            values = {o: combo[f"sweep.{o}"] for o in others} | {param: x}
            try:
                grid_point = _with_values(config, values)
                rec = PointReference.of(grid_point).summary(grid_point)
            except ValueError:  # ConfigError or an unsolvable point
                continue
            rec[f"sweep.{param}"] = x
            if series:
                rec[series] = combo[series]
            records.append(rec)
    return pd.DataFrame(records) if records else None


def _with_values(config: RunConfig, values: dict[str, Any]) -> RunConfig:
    """The config without its sweep, with ``section.key`` values set."""
    data = config.to_dict()
    data["sweep"] = {}
    for key, value in values.items():
        section, name = key.split(".")
        data[section][name] = value
    return validate(data)


def _sweep_table(rows: list[dict[str, Any]], cols: list[str]) -> list[str]:
    """A Markdown table of the main summary quantities per grid point."""
    quantities = [
        q for q in ("p_suc", "negativity", "fidelity", "mean_attempts") if q in rows[0]
    ]
    table = []
    for r in rows:
        t = {c: r[c] for c in cols}
        for q in quantities:
            t[q] = f"{format_estimate(r, q)}"
        table.append(t)
    return [rp.markdown_table(table, [*cols, *quantities]), ""]
