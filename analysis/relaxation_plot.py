"""The relaxation figure: sampled p_suc and populations against time, with bands,
over the exact curves e^{Lt} rho_0 (pure functions of arrays)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from numpy.typing import NDArray

from analysis.figures import Z_95, new_figure
from analysis.report import TIME_UNIT


def relaxation_figure(
    times: NDArray[np.float64],
    values: NDArray[np.float64],
    ses: NDArray[np.float64],
    exact_times: NDArray[np.float64],
    exact: NDArray[np.float64],
    labels: Sequence[str],
    relaxation_time: float,
    title: str = "",
) -> Figure:
    """Column 0 of ``values`` (n_t, q) is p_suc (left panel), the others are
    populations (right panel): markers with 95% bands (+- 1.96 SE) at the sample
    ``times``, lines for the exact values at ``exact_times``; the dotted line marks
    one relaxation time. The legend sits below the panels."""
    fig = new_figure(11.0, 4.8)
    left, right = fig.subplots(1, 2)
    panels = (
        (left, [0], "success probability p_suc(t)"),
        (right, range(1, values.shape[1]), "population"),
    )
    for ax, columns, ylabel in panels:
        for c in columns:
            color = f"C{c % 10}"
            ax.plot(exact_times, exact[:, c], "-", color=color, lw=1.2)
            ax.fill_between(
                times,
                values[:, c] - Z_95 * ses[:, c],
                values[:, c] + Z_95 * ses[:, c],
                color=color,
                alpha=0.25,
                lw=0,
            )
            ax.plot(times, values[:, c], "o", color=color, ms=4, label=labels[c])
        ax.axvline(relaxation_time, color="0.5", ls=":", lw=1)
        ax.set_xlabel(f"time t ({TIME_UNIT})")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    keys = [
        Line2D([], [], marker="o", ls="none", color="0.3", ms=4, label="sampled"),
        Patch(color="0.3", alpha=0.25, lw=0, label="95% band"),
        Line2D([], [], color="0.3", lw=1.2, label="exact $e^{Lt}\\rho_0$"),
        Line2D(
            [], [], color="0.5", ls=":", lw=1, label=f"1/gap = {relaxation_time:.4g}"
        ),
    ]
    levels = right.get_legend_handles_labels()[0]
    fig.legend(
        handles=keys + levels,
        loc="outside lower center",
        ncol=5,
        fontsize=9,
    )
    if title:
        fig.suptitle(title)
    return fig
