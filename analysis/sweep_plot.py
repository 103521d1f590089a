"""The figure of a sweep: summary quantities against a swept parameter.

Estimates with 95% confidence intervals, exact values at the grid points and, if
given, exact curves on a finer grid; one panel per quantity (``SWEEP_LABELS``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from numpy.typing import NDArray

from analysis.figures import Z_95, new_figure
from analysis.report import TIME_UNIT

SWEEP_LABELS: dict[str, str] = {
    "p_suc": "p_suc",
    "negativity": "negativity of ρ'",
    "purity": "purity of ρ'",
    "fidelity": "fidelity of ρ'",
    "chsh": "CHSH value of ρ'",
    "mean_attempts": "E[K | K ≤ A] (attempts)",
    "mean_wait": f"E[K T | K ≤ A] ({TIME_UNIT})",
    "censored": "P(K > A)",
    "bank_round_success": "P(bank succeeds, round 1)",
}
"""Axis labels of the summary quantities plotted against a swept parameter."""


def all_numeric(values: Sequence[Any]) -> bool:
    return all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        for v in values
    )


def sweep_figure(
    summary: pd.DataFrame,
    param: str,
    quantities: Sequence[str],
    curves: pd.DataFrame | None = None,
    series: str | None = None,
    param_label: str | None = None,
) -> Figure:
    """Summary quantities against a swept parameter: estimates with 95% CIs, exact
    values at the grid points and (if given) exact curves on a finer grid.

    Parameters
    ----------
    summary
        One row per grid point with ``param`` and each ``q``, ``q_se``, ``q_exact``.
    param
        Column of the swept parameter (the x axis).
    quantities
        Summary keys, one panel each.
    curves
        Exact values on a finer grid: columns ``param``, the quantities and
        optionally ``series``.
    series
        Column distinguishing several curves (the other swept keys), or None.
    """
    qs = [q for q in quantities if q in summary]
    cols = min(3, max(len(qs), 1))
    rows = math.ceil(len(qs) / cols) if qs else 1
    fig = new_figure(4.4 * cols, 3.5 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    x_all = summary[param].tolist()
    codes = _category_codes(x_all)
    groups = list(summary.groupby(series, sort=False)) if series else [(None, summary)]
    for ax, q in zip(axes, qs, strict=False):
        for i, (name, sub) in enumerate(groups):
            color = f"C{i % 10}"
            x = _positions(sub[param], codes)
            _sweep_points(ax, sub, q, x, color, "" if name is None else f" ({name})")
            if curves is not None and q in curves:
                c = curves if name is None else curves[curves[series] == name]
                c = c.sort_values(param)
                x_fine = c[param].to_numpy(dtype=float)
                ax.plot(x_fine, c[q].to_numpy(dtype=float), "-", color=color, lw=1.2)
        _sweep_axes(ax, x_all, codes)
        ax.set_xlabel(param_label or param)
        ax.set_ylabel(SWEEP_LABELS.get(q, q))
        ax.grid(alpha=0.3)
    for ax in axes[len(qs) :]:
        ax.set_visible(False)
    if qs:
        _sweep_legend(fig, axes[: len(qs)], curves is not None)
        fig.suptitle(f"summary quantities against {param_label or param}", fontsize=13)
    return fig


def _category_codes(x_all: list[Any]) -> dict[str, int] | None:
    """None for numeric values; else a code 0, 1, ... per distinct text, in order."""
    if all_numeric(x_all):
        return None
    return {v: i for i, v in enumerate(dict.fromkeys(map(str, x_all)))}


def _positions(values: pd.Series, codes: dict[str, int] | None) -> NDArray[Any]:
    """x positions: the values themselves, or their category codes."""
    if codes is None:
        return values.to_numpy(dtype=float)
    return np.array([codes[str(v)] for v in values])


def _sweep_points(
    ax: Axes, sub: pd.DataFrame, q: str, x: NDArray[Any], color: str, suffix: str
) -> None:
    """Estimates of ``q`` with 95% CIs (a cross, no interval, where the sample does
    not resolve it: no finite SE) and, if known, the exact values."""
    y = sub[q].to_numpy(dtype=float)
    se = sub.get(f"{q}_se")
    se = np.full(y.shape, np.nan) if se is None else se.to_numpy(dtype=float)
    ok = np.isfinite(se) & (se > 0)
    ax.errorbar(
        x[ok],
        y[ok],
        yerr=Z_95 * se[ok],
        fmt="o",
        color=color,
        capsize=4,
        label=f"estimate, 95% CI{suffix}",
    )
    if not ok.all():
        ax.plot(
            x[~ok],
            y[~ok],
            "x",
            color=color,
            ms=8,
            mew=1.5,
            label=f"estimate, not resolved (no CI){suffix}",
        )
    if f"{q}_exact" in sub:
        ax.plot(
            x,
            sub[f"{q}_exact"].to_numpy(dtype=float),
            "D",
            mfc="none",
            color=color,
            ms=8,
            label=f"exact{suffix}",
        )


def _sweep_axes(ax: Axes, x_all: list[Any], codes: dict[str, int] | None) -> None:
    """A log x axis for positive values spanning >= 20x; category names otherwise."""
    if codes is None:
        xs = np.asarray(x_all, dtype=float)
        if np.all(xs > 0) and xs.max() / xs.min() >= 20:
            ax.set_xscale("log")
    else:
        ax.set_xticks(list(codes.values()))
        ax.set_xticklabels(list(codes.keys()))


def _sweep_legend(fig: Figure, axes: Sequence[Axes], fine: bool) -> None:
    """One legend below the figure: every entry of the panels once (with the
    fine-grid curve)."""
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    handles, labels = list(entries.values()), list(entries)
    if fine:
        handles.append(Line2D([], [], color="0.2", lw=1.2))
        labels.append("exact (fine grid)")
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=min(len(labels), 4),
        fontsize=10,
    )
