"""Figures of a heralding run: pure functions of arrays and DataFrames.

Each builder returns a ``matplotlib.figure.Figure`` made without ``pyplot`` (no global
state, no display: ``save_figure`` renders it with the Agg backend). The numbers they
draw come from the tables of ``analysis.report``; the figure of a sweep is in
``analysis.sweep_plot``.

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
from matplotlib.image import AxesImage
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


def save_figure(fig: Figure, path: Path, dpi: int = 110) -> Path:
    """Render ``fig`` to a PNG with the Agg backend (headless)."""
    FigureCanvasAgg(fig)
    path = Path(path)
    fig.savefig(path, dpi=dpi)
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


# ---------------------------------------------------------------- density matrix


def density_matrix_figure(
    estimate: NDArray[np.complex128],
    exact: NDArray[np.complex128],
    se: NDArray[np.complex128] | None = None,
    dims: tuple[int, int] | None = None,
    title: str = "post-selected state ρ'",
) -> Figure:
    """Real and imaginary parts of the estimated rho' beside the exact one.

    Annotated heat maps on one symmetric colour scale; estimate cells show the
    value and (if ``se`` is given) its standard error.
    """
    est = np.asarray(estimate, dtype=complex)
    ex = np.asarray(exact, dtype=complex)
    k = est.shape[0]
    labels = basis_labels(dims) if dims and dims[0] * dims[1] == k else None
    vmax = max(
        float(np.abs(np.concatenate([est.real, est.imag, ex.real, ex.imag])).max()),
        1e-3,
    )
    size = min(3.0 + 0.45 * k, 6.0)
    fig = new_figure(2 * size + 0.8, 2 * size)
    axes = fig.subplots(2, 2)
    panels = [
        (est.real, None if se is None else np.real(se), "estimate, Re ρ'"),
        (ex.real, None, "exact, Re ρ'"),
        (est.imag, None if se is None else np.imag(se), "estimate, Im ρ'"),
        (ex.imag, None, "exact, Im ρ'"),
    ]
    image = None
    for ax, (data, err, name) in zip(axes.flat, panels, strict=True):
        image = _matrix_panel(ax, data, err, name, labels, vmax)
    fig.colorbar(image, ax=axes, shrink=0.7, label="matrix element")
    fig.suptitle(title, fontsize=13)
    return fig


def _matrix_panel(
    ax: Axes,
    data: NDArray[np.float64],
    err: NDArray[np.float64] | None,
    name: str,
    labels: list[str] | None,
    vmax: float,
) -> AxesImage:
    """One heat map of a (k, k) real matrix, annotated when k <= 6."""
    k = data.shape[0]
    image = ax.imshow(data, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    ax.set_title(name, fontsize=12)
    ticks = np.arange(k)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    if labels:
        tick_font = 10 if k <= 8 else 8
        ax.set_xticklabels(labels, fontsize=tick_font, rotation=90 if k > 8 else 0)
        ax.set_yticklabels(labels, fontsize=tick_font)
    ax.set_xlabel("column (bra)", fontsize=10)
    ax.set_ylabel("row (ket)", fontsize=10)
    if k <= 6:  # annotate each cell with its value (and its standard error)
        for i in range(k):
            for j in range(k):
                v = data[i, j] + 0.0
                text = f"{v:.3f}" if abs(v) >= 5e-4 else "0"
                if err is not None and err[i, j] >= 5e-4:
                    text += f"\n±{err[i, j]:.3f}"
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=9 if k <= 4 else 7,
                    color="white" if abs(v) > 0.6 * vmax else "black",
                )
    return image


# ---------------------------------------------------------------------- measures


def measures_figure(table: pd.DataFrame, title: str = "") -> Figure:
    """Each quantity's estimate with its 95% CI against the exact value.

    ``table`` has columns ``quantity``, ``value``, ``se``, ``exact`` and optionally
    ``ci_low``, ``ci_high`` (else value +- 1.96 SE); one panel per row, since the
    quantities live on different scales. A NaN SE marks a quantity the sample does
    not resolve (no interval).
    """
    m = len(table)
    fig = new_figure(max(2.4 * m, 4.0), 3.4)
    axes = np.atleast_1d(fig.subplots(1, max(m, 1)))
    for ax, r in zip(axes, table.itertuples(), strict=False):
        low = getattr(r, "ci_low", r.value - Z_95 * r.se)
        high = getattr(r, "ci_high", r.value + Z_95 * r.se)
        if not (math.isfinite(low) and math.isfinite(high)):
            low = high = r.value
        ax.errorbar(
            [0],
            [r.value],
            yerr=[[r.value - low], [high - r.value]],
            fmt="o",
            color="C0",
            capsize=6,
            markersize=7,
            label="estimate, 95% CI",
        )
        ax.plot([0.25], [r.exact], "D", color="C3", markersize=7, label="exact")
        ax.axhline(r.exact, color="C3", lw=0.8, ls=":")
        ax.set_xlim(-0.6, 0.85)
        ax.set_xticks([])
        ax.set_ylabel(MEASURE_LABELS.get(r.quantity, r.quantity))
        ax.set_title(
            f"z = {format_z((r.value - r.exact) / r.se)}"
            if r.se > 0
            else "not resolved"
        )
        lo = min(low, r.exact)
        hi = max(high, r.exact)
        pad = max(0.25 * (hi - lo), 1e-4 * max(abs(hi), 1.0))
        ax.set_ylim(lo - pad, hi + pad)
        ax.ticklabel_format(axis="y", useOffset=False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=10)
    if title:
        fig.suptitle(title, fontsize=13)
    return fig


# ------------------------------------------------------------------ waiting times


def waiting_time_figure(
    table: pd.DataFrame, attempt_period: float, p_suc: float, title: str = ""
) -> Figure:
    """Histogram of K (attempts until the first success) with the exact law and the
    geometric law overlaid (log scale), waiting time K T on the top axis."""
    fig = new_figure(8.0, 4.6)
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
    _waiting_time_legend(ax, table.attrs, int(k.max()))
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
        label=f"sampled (n = {table.attrs.get('n', 0)})",
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
        ax.set_ylim(positive.min() / 3, min(3.0, positive.max() * 12))


def _waiting_time_legend(ax: Axes, a: dict[str, Any], attempts: int) -> None:
    """The legend, with the tails P(K > attempts) and the total variation as text."""
    handles, labels = ax.get_legend_handles_labels()
    blank = Line2D([], [], linestyle="none")
    handles += [blank, blank]
    labels += [
        f"P(K > {attempts}): sampled {a['sampled_tail']:.4g} ± "
        f"{a['sampled_tail_se']:.2g}, exact {a['exact_tail']:.4g}, "
        f"geometric {a['geometric_tail']:.4g}",
        f"total variation (exact, geometric) = {a['tv_exact_geometric']:.3g}",
    ]
    ax.legend(handles, labels, loc="best", fontsize=9, framealpha=0.9)


# ------------------------------------------------------------------------- banks


def bank_success_figure(
    table: pd.DataFrame, p: float, configured: int | None = None, title: str = ""
) -> Figure:
    """P(at least one success in a round) against bank size n, with 1 - (1 - p)^n.

    ``configured``: the run's bank size, marked by a vertical line.
    """
    fig = new_figure(6.8, 4.4)
    ax = fig.subplots()
    n_max = max(int(table["n"].max()), 2)
    n = np.geomspace(1, n_max, 200)
    ax.plot(
        n,
        any_success_probability(p, n),
        "-",
        color="k",
        lw=1.3,
        label=f"exact $1 - (1 - p)^n$, p = {p:.4g}",
    )
    ax.errorbar(
        table["n"],
        table["sampled"],
        yerr=Z_95 * table["sampled_se"],
        fmt="o",
        color="C0",
        capsize=4,
        label="sampled, 95% CI",
    )
    if configured is not None:
        ax.axvline(
            configured,
            color="0.5",
            ls=":",
            lw=1.2,
            label=f"run's bank, n = {configured}",
        )
    _bank_size_axis(ax, table["n"].to_numpy())
    ax.set_ylabel("P(≥ 1 success in a round)")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
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
