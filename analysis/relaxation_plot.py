"""The relaxation figure: sampled p_suc and populations against time, with bands,
over the exact curves e^{Lt} rho_0 (pure functions of arrays)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from analysis.figures import Z_95, new_figure


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
    one relaxation time."""
    fig = new_figure(11.0, 4.2)
    left, right = fig.subplots(1, 2)
    panels = ((left, [0], "p_suc"), (right, range(1, values.shape[1]), "population"))
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
        ax.set_xlabel("time t")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    right.legend(fontsize=8, ncol=2, loc="best")
    left.set_title(f"relaxation time 1/gap = {relaxation_time:.4g} (dotted)")
    if title:
        fig.suptitle(title)
    return fig
