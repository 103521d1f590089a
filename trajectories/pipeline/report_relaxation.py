"""The report's steady-state section: the relaxation curves of a grid point and its
sampled steady state beside the exact one (from the ``states`` records)."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.density_plot import density_matrix_figure
from analysis.estimators import moments_mean_se
from analysis.relaxation_plot import relaxation_figure
from trajectories.exact.relaxation import liouvillian_gap
from trajectories.exact.starts import start_density
from trajectories.exact.states import evolve, steady_state
from trajectories.pipeline.config import RunConfig
from trajectories.pipeline.figure_files import FigureFiles
from trajectories.pipeline.records import PointRecords
from trajectories.pipeline.steady_estimates import sampled_density
from trajectories.pipeline.summary import format_estimate
from trajectories.system.models import OpenSystem

CURVES = 6
"""Populations drawn: those of largest exact steady value."""


def relaxation_section(
    stem: str,
    point: RunConfig,
    row: dict[str, Any],
    rec: PointRecords,
    figures: FigureFiles,
) -> list[str]:
    """Figures and Markdown of the relaxation and the sampled steady state."""
    states = rec.state_sums()
    if states is None:
        return []
    model = point.build_model()
    rho_ss = steady_state(model)
    gap = liouvillian_gap(model)
    steady = partial(_steady_figure, states, rho_ss, row, model)
    fig_s = figures.add(steady, f"{stem}_steady.png", weight=3.0)
    z_max = row.get("steady_state_max_abs_z", float("nan"))
    return [
        "### Relaxation and the sampled steady state",
        "",
        f"Machines start {point.sampling.initial!r}; the Liouvillian gap (on the "
        f"elements reachable from the populations) is {gap:.4g}, a relaxation time "
        f"of {1 / gap:.4g}; burn-in {point.burn_in:.4g} before the first attempt.",
        "",
        *_relaxation_lines(stem, states, model, point, rho_ss, 1 / gap, figures),
        "The steady state sampled by the run, element by element (time average along "
        "each trajectory over the window before the first attempt), beside the exact "
        f"one: largest |z| over {row.get('steady_state_n_elements', 0)} compared "
        f"elements (both estimators) {z_max:.2f}.",
        "",
        f"- stationary p_suc, ensemble at the end of the burn-in = "
        f"{format_estimate(row, 'steady_ens_p_suc')}",
        "- stationary p_suc, time average = "
        + format_estimate(row, "steady_avg_p_suc"),
        f"- negativity of the sampled state (ensemble) = "
        f"{format_estimate(row, 'steady_ens_negativity')}",
        "",
        f"![sampled steady state](figures/{fig_s.name})",
        "",
    ]


def _relaxation_lines(
    stem: str,
    states: pd.DataFrame,
    model: OpenSystem,
    point: RunConfig,
    rho_ss: NDArray,
    tau: float,
    figures: FigureFiles,
) -> list[str]:
    """The relaxation figure and its line, or one line when the ensemble is sampled
    at a single time (no burn-in: nothing relaxes before the first attempt)."""
    ens = states[states["kind"] == "ensemble"]
    if ens["sample"].nunique() < 2:
        return [
            "No relaxation figure: the ensemble is sampled only at t = 0 (no burn-in "
            "before the first attempt); the steady state it samples is compared with "
            "the exact one below.",
            "",
        ]
    curves = partial(_relaxation_curves, ens, model, point, rho_ss, tau)
    path = figures.add(curves, f"{stem}_relaxation.png", weight=1.5)
    return [f"![relaxation](figures/{path.name})", ""]


def _relaxation_curves(
    ens: pd.DataFrame,
    model: OpenSystem,
    point: RunConfig,
    rho_ss: NDArray,
    tau: float,
):
    """The relaxation figure: sampled p_suc and the largest populations by time."""
    levels = np.argsort(-np.diag(rho_ss).real)[:CURVES]
    keys = [("p_suc", -1)] + [("rho", int(k)) for k in levels]
    times, values, ses = _curve_estimates(ens, keys)
    start = start_density(model, point.sampling.initial)
    grid = np.linspace(0.0, max(float(times.max()), 1e-9), 200)
    rhos = evolve(model, start, grid)
    P = model.machine.filter.success_projector()
    exact = np.column_stack(
        [np.einsum("ij,tji->t", P, rhos).real] + [rhos[:, k, k].real for k in levels]
    )
    labels = ["p_suc"] + [_level_label(model, int(k)) for k in levels]
    title = f"relaxation of the machines started {point.sampling.initial!r}"
    return relaxation_figure(times, values, ses, grid, exact, labels, tau, title)


def _curve_estimates(ens: pd.DataFrame, keys: list[tuple[str, int]]):
    """(times, means (n_t, q), SEs) of p_suc and populations at the sample times."""
    tot = ens.groupby(["sample", "quantity", "i", "j"])[
        ["n", "re", "re_sq", "time"]
    ].agg({"n": "sum", "re": "sum", "re_sq": "sum", "time": "first"})
    samples = sorted(ens["sample"].unique())
    times = np.array([tot.loc[s].iloc[0]["time"] for s in samples])
    values = np.zeros((len(samples), len(keys)))
    ses = np.zeros_like(values)
    for a, s in enumerate(samples):
        for b, (q, k) in enumerate(keys):
            r = tot.loc[(s, q, k, k)]
            values[a, b], ses[a, b] = moments_mean_se(r["re"], r["re_sq"], int(r["n"]))
    return times, values, ses


def _steady_figure(states: pd.DataFrame, rho_ss: NDArray, row: dict, model):
    """The time-averaged sampled state beside the exact steady state."""
    avg = states[states["kind"] == "average"]
    rows = avg if not avg.empty else states[states["kind"] == "ensemble"]
    last = rows[rows["sample"] == rows["sample"].max()]
    D = model.machine.dim
    rho = sampled_density(last, D)
    kind = last["kind"].iloc[0]
    se = np.full((D, D), complex(np.nan, np.nan))
    for e in row.get("steady_state_elements", []):
        se_e = e["se"] if e["se"] is not None else np.nan
        if e["estimator"] == kind and np.isfinite(se_e):
            for a, b in ((e["i"], e["j"]), (e["j"], e["i"])):
                old = se[a, b]
                re, im = (se_e, old.imag) if e["part"] == "re" else (old.real, se_e)
                se[a, b] = complex(re, im)
    how = "time average before the first attempt" if kind == "average" else "ensemble"
    return density_matrix_figure(
        rho,
        rho_ss,
        se,
        model.machine.dims,
        symbol="ρ_ss",
        estimate_name="sampled",
        title=f"steady state ρ_ss of the machine: sampled ({how}) and exact",
    )


def _level_label(model: OpenSystem, k: int) -> str:
    d_B = model.machine.dims[1]
    return f"|{k // d_B}{k % d_B}⟩"
