"""Figures of a heralding run: pure functions of arrays and DataFrames.

Each builder returns a ``matplotlib.figure.Figure`` made without ``pyplot`` (no global
state, no display: ``save_figure`` renders it with the Agg backend). The numbers they
draw come from the tables of ``analysis.report``; the figures of a density matrix,
of a sweep and of the relaxation are in ``analysis.density_plot``,
``analysis.sweep_plot`` and ``analysis.relaxation_plot``. Legends sit outside the
axes, so they never cover data.

Units: energies and rates in units of the first gap of system A, times in units of
its inverse (hbar = k_B = 1), as in the paper.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from numpy.typing import NDArray

from analysis.report import TIME_UNIT, format_z
from analysis.waiting_times import any_success_probability

Z_95 = 1.959963984540054
"""Two-sided 95% normal quantile (error bars are 95% confidence intervals)."""

FONT = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11}

MEASURE_LABELS: dict[str, str] = {
    "p_suc": "success probability p_suc",
    "negativity": "negativity N(ρ')",
    "purity": "purity Tr ρ'²",
    "fidelity": "fidelity to target",
    "chsh": "CHSH value (max)",
    "concurrence": "concurrence",
}
"""Axis labels of the quality measures."""

UNRESOLVED = {"color": "0.45", "mfc": "none"}
"""Marker style of an estimate the sample does not resolve (no interval)."""


PNG_COMPRESSION = 1
"""zlib level of the report's PNGs: level 1 encodes in a fraction of the default
level 6's time (~0.2 s of a default run's report) for files ~30% larger."""


def save_figure(fig: Figure, path: Path, dpi: int = 110) -> Path:
    """Render ``fig`` to a PNG with the Agg backend (headless)."""
    FigureCanvasAgg(fig)
    path = Path(path)
    fig.savefig(path, dpi=dpi, pil_kwargs={"compress_level": PNG_COMPRESSION})
    return path


def new_figure(width: float, height: float) -> Figure:
    """An empty figure with constrained layout and the report's fonts."""
    import matplotlib as mpl

    with mpl.rc_context(FONT):
        fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def basis_labels(dims: tuple[int, int]) -> list[str]:
    """Labels |a b> of the relabelled filtered basis, flat index a * d_B + b."""
    d_A, d_B = dims
    return [f"|{a}{b}⟩" for a in range(d_A) for b in range(d_B)]


# ---------------------------------------------------------------------- measures


def measures_figure(table: pd.DataFrame, title: str = "") -> Figure:
    """Each quantity's estimate with its 95% CI against the exact value.

    ``table`` has columns ``quantity``, ``value``, ``se``, ``exact`` and optionally
    ``ci_low``, ``ci_high`` (else value +- 1.96 SE); one panel per row, since the
    quantities live on different scales. A NaN SE marks a quantity the sample does
    not resolve: an open grey marker, no interval.
    """
    m = len(table)
    fig = new_figure(max(2.4 * m, 4.0), 3.4)
    axes = np.atleast_1d(fig.subplots(1, max(m, 1)))
    for ax, r in zip(axes, table.itertuples(), strict=False):
        low = getattr(r, "ci_low", r.value - Z_95 * r.se)
        high = getattr(r, "ci_high", r.value + Z_95 * r.se)
        resolved = r.se > 0 and math.isfinite(low) and math.isfinite(high)
        if resolved:
            ax.errorbar(
                [0],
                [r.value],
                yerr=[[r.value - low], [high - r.value]],
                fmt="o",
                color="C0",
                capsize=6,
                markersize=7,
            )
        else:
            low = high = r.value
            ax.plot([0], [r.value], "o", markersize=7, **UNRESOLVED)
        ax.plot([0.25], [r.exact], "D", color="C3", markersize=7)
        ax.axhline(r.exact, color="C3", lw=0.8, ls=":")
        ax.set_xlim(-0.6, 0.85)
        ax.set_xticks([])
        ax.set_ylabel(MEASURE_LABELS.get(r.quantity, r.quantity))
        ax.set_title(
            f"z = {format_z((r.value - r.exact) / r.se)}"
            if resolved
            else "not resolved"
        )
        shown = [v for v in (low, high, r.exact) if math.isfinite(v)] or [0.0]
        lo, hi = min(shown), max(shown)  # a NaN value (no estimate) is not drawn
        pad = max(0.25 * (hi - lo), 1e-4 * max(abs(hi), 1.0))
        ax.set_ylim(lo - pad, hi + pad)
        ax.ticklabel_format(axis="y", useOffset=False)
    _measures_legend(fig, not table["se"].gt(0).all())
    if title:
        fig.suptitle(title, fontsize=13)
    return fig


def _measures_legend(fig: Figure, unresolved: bool) -> None:
    """The legend below the panels (with the unresolved marker if one is drawn)."""
    handles = [
        Line2D([], [], marker="o", color="C0", ms=7, label="estimate, 95% CI"),
        Line2D([], [], marker="D", color="C3", ls=":", ms=7, label="exact"),
    ]
    if unresolved:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="none",
                ms=7,
                label="not resolved (no CI)",
                **UNRESOLVED,
            )
        )
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=10)


# ------------------------------------------------------------------ waiting times


def waiting_time_figure(
    table: pd.DataFrame, attempt_period: float, p_suc: float, title: str = ""
) -> Figure:
    """Histogram of K (attempts until the first success) with the exact law and the
    geometric law overlaid (log scale), waiting time K T on the top axis; the legend
    below the axes, headed by the tail P(K > attempts) and the total variation."""
    fig = new_figure(8.0, 5.2)
    ax = fig.subplots()
    k = table["k"].to_numpy()
    _waiting_time_laws(ax, table, p_suc)
    ax.set_xlabel("K (attempts until the first success)")
    ax.set_ylabel("probability P(K = k)")
    ax.set_xlim(0.3, k.max() + 0.7)
    top = ax.secondary_xaxis(
        "top",
        functions=(lambda x: x * attempt_period, lambda w: w / attempt_period),
    )
    top.set_xlabel(f"waiting time K T ({TIME_UNIT})")
    _waiting_time_legend(fig, ax, table.attrs, int(k.max()))
    ax.grid(alpha=0.3, which="major")
    if title:
        ax.set_title(title)
    return fig


def _waiting_time_laws(ax: Axes, table: pd.DataFrame, p_suc: float) -> None:
    """Sampled histogram with binomial error bars, exact and geometric laws (log y)."""
    k = table["k"].to_numpy()
    ax.bar(
        k,
        table["sampled"],
        width=0.85,
        color="C0",
        alpha=0.45,
        label=f"sampled (n = {table.attrs.get('n', 0)}), ± 1 SE",
    )
    ax.errorbar(
        k,
        table["sampled"],
        yerr=table["sampled_se"],
        fmt="none",
        ecolor="C0",
        elinewidth=1,
        capsize=2,
    )
    ax.plot(k, table["exact"], "o-", color="k", ms=4, lw=1.2, label="exact P(K = k)")
    ax.plot(
        k,
        table["geometric"],
        "--",
        color="C3",
        lw=1.5,
        label=f"geometric, p = p_suc = {p_suc:.4g}",
    )
    positive = np.concatenate(
        [table["sampled"][table["sampled"] > 0], table["exact"][table["exact"] > 0]]
    )
    if positive.size:
        ax.set_yscale("log")
        ax.set_ylim(positive.min() / 2, min(1.5, positive.max() * 2.5))


def _waiting_time_legend(
    fig: Figure, ax: Axes, a: dict[str, Any], attempts: int
) -> None:
    """The legend below the axes, its title the tail P(K > attempts) and the total
    variation between the exact and geometric laws."""
    handles, labels = ax.get_legend_handles_labels()
    head = (
        f"P(K > {attempts}): sampled {a['sampled_tail']:.4g} ± "
        f"{a['sampled_tail_se']:.2g}, exact {a['exact_tail']:.4g}, "
        f"geometric {a['geometric_tail']:.4g}; total variation (exact, geometric) "
        f"= {a['tv_exact_geometric']:.3g}"
    )
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=3,
        fontsize=9,
        title=head,
        title_fontsize=9,
    )


# ------------------------------------------------------------------------- banks


def bank_success_figure(
    table: pd.DataFrame, p: float, configured: int | None = None, title: str = ""
) -> Figure:
    """P(at least one success in a round) against bank size n, with 1 - (1 - p)^n.

    Only the sizes the sample resolves (``table["resolved"]``, see
    ``analysis.report.BANK_OUTCOMES_MIN``) are drawn, and the exact curve spans
    them; ``configured``: the run's bank size, marked by a vertical line.
    """
    fig = new_figure(6.8, 4.8)
    ax = fig.subplots()
    shown = table[table["resolved"].astype(bool)] if "resolved" in table else table
    sizes = shown["n"].to_numpy() if len(shown) else table["n"].to_numpy()[:1]
    n = np.geomspace(max(int(sizes.min()), 1), max(int(sizes.max()), 2), 200)
    ax.plot(
        n,
        any_success_probability(p, n),
        "-",
        color="k",
        lw=1.3,
        label=f"exact $1 - (1 - p)^n$, p = {p:.4g}",
    )
    ax.errorbar(
        shown["n"],
        shown["sampled"],
        yerr=Z_95 * shown["sampled_se"],
        fmt="o",
        color="C0",
        capsize=4,
        label="sampled, 95% CI",
    )
    if configured is not None and sizes.min() <= configured <= sizes.max():
        ax.axvline(
            configured,
            color="0.5",
            ls=":",
            lw=1.2,
            label=f"run's bank, n = {configured}",
        )
    _bank_size_axis(ax, sizes)
    ax.set_ylabel("P(≥ 1 success in a round)")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncol=3, fontsize=9)
    if title:
        ax.set_title(title)
    return fig


def _bank_size_axis(ax: Axes, sizes: NDArray[np.int64]) -> None:
    """A log-2 x axis with a plain tick at each bank size."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("bank size n (machines attempting in lockstep)")
