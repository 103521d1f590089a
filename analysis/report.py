"""Figures and tables of a heralding run: pure functions of arrays and DataFrames.

The table builders (``waiting_time_table``, ``bank_success_table``,
``validation_table``) return the numbers a figure is drawn from, so they can be
tested without looking at pixels; the figure builders return a
``matplotlib.figure.Figure`` made without ``pyplot`` (no global state, no display:
``save_figure`` renders it with the Agg backend).

Units: energies and rates in units of the first gap of system A, times in units of
its inverse (hbar = k_B = 1), as in the paper.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike, NDArray

from analysis.waiting_times import any_success_probability

Z_PASS = 4.5
"""A validation row passes when |z| < Z_PASS."""

Z_95 = 1.959963984540054
"""Two-sided 95% normal quantile (error bars are 95% confidence intervals)."""

TIME_UNIT = "1/first gap of A"
"""Unit of times (hbar = 1, energies in units of the first gap of system A)."""

FONT = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11}

VALIDATION_ROWS: dict[str, str] = {
    "p_suc": "p_suc (Born weights)",
    "p_suc_sampled": "p_suc (sampled outcomes)",
    "negativity": "negativity of rho'",
    "purity": "purity of rho'",
    "fidelity": "fidelity of rho' to the target",
    "chsh": "CHSH value of rho'",
    "concurrence": "concurrence of rho'",
    "mean_attempts": "E[K | K <= attempts] (attempts)",
    "mean_wait": f"E[K T | K <= attempts] ({TIME_UNIT})",
    "censored": "P(K > attempts)",
    "bank_round_success": "P(bank succeeds in round 1)",
}
"""Summary keys validated in the report, with their labels (in this order)."""

MEASURE_LABELS: dict[str, str] = {
    "p_suc": "success probability p_suc",
    "negativity": "negativity N(ρ')",
    "purity": "purity Tr ρ'²",
    "fidelity": "fidelity to target",
    "chsh": "CHSH value (max)",
    "concurrence": "concurrence",
}
"""Axis labels of the quality measures."""

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


# ------------------------------------------------------------------------- tables


def waiting_time_table(
    k: ArrayLike, exact_pmf: ArrayLike, exact_tail: float, p_suc: float
) -> pd.DataFrame:
    """Sampled and exact laws of K (attempts until the first success).

    Parameters
    ----------
    k
        Samples of K (censored machines: ``len(exact_pmf) + 1``).
    exact_pmf, exact_tail
        The exact P(K = k), k = 1..A, and P(K > A).
    p_suc
        Parameter of the geometric law p (1 - p)^(k - 1) drawn for comparison.

    Returns
    -------
    DataFrame
        One row per k = 1..A: ``k``, ``sampled`` (frequency), ``sampled_se``
        (binomial), ``exact``, ``geometric``; ``attrs`` holds the tail
        (``sampled_tail``, ``sampled_tail_se``, ``exact_tail``, ``geometric_tail``),
        the sample size ``n`` and the total-variation distance between the exact
        and geometric laws (``tv_exact_geometric``, tail as a bin).
    """
    pmf = np.asarray(exact_pmf, dtype=float)
    A = pmf.size
    a = np.asarray(k)
    n = int(a.size)
    counts = np.bincount(np.clip(a, 1, A + 1), minlength=A + 2)[1:]
    freq = counts / max(n, 1)
    se = np.sqrt(freq * (1 - freq) / max(n, 1))
    ks = np.arange(1, A + 1)
    table = pd.DataFrame(
        {
            "k": ks,
            "sampled": freq[:A],
            "sampled_se": se[:A],
            "exact": pmf,
            "geometric": p_suc * (1 - p_suc) ** (ks - 1),
        }
    )
    table.attrs.update(
        n=n,
        sampled_tail=float(freq[A]),
        sampled_tail_se=float(se[A]),
        exact_tail=float(exact_tail),
        geometric_tail=float((1 - p_suc) ** A),
    )
    table.attrs["tv_exact_geometric"] = 0.5 * float(
        np.abs(table["exact"] - table["geometric"]).sum()
        + abs(table.attrs["exact_tail"] - table.attrs["geometric_tail"])
    )
    return table


def bank_sizes(
    n_machines: int, n_banks_min: int = 20, configured: int = 1
) -> list[int]:
    """Bank sizes 1, 2, 4, ... (and ``configured``) leaving >= n_banks_min banks."""
    top = max(1, n_machines // n_banks_min)
    sizes = {2**j for j in range(int(math.log2(top)) + 1)}
    if configured <= top:
        sizes.add(int(configured))
    return sorted(sizes)


def bank_success_table(
    first_success: ArrayLike, p: float, sizes: Sequence[int]
) -> pd.DataFrame:
    """P(at least one of n machines succeeds in a round) against n.

    Consecutive machines form banks of n (independent machines, so any grouping
    works); the sampled fraction of banks with a first-round success is compared with
    1 - (1 - p)^n.

    Parameters
    ----------
    first_success
        Boolean first-attempt outcome of each machine.
    p
        Exact success probability of one machine in one round.
    sizes
        Bank sizes n.

    Returns
    -------
    DataFrame
        ``n``, ``banks``, ``sampled``, ``sampled_se`` (binomial with the exact
        probability), ``exact`` = 1 - (1 - p)^n, ``z``.
    """
    s = np.asarray(first_success, dtype=bool)
    rows = []
    for n in sizes:
        m = s.size // n
        if m < 1:
            continue
        hit = s[: m * n].reshape(m, n).any(axis=1)
        exact = float(any_success_probability(p, n))
        value = float(hit.mean())
        se = math.sqrt(max(exact * (1 - exact), 0.0) / m)
        rows.append(
            {
                "n": int(n),
                "banks": int(m),
                "sampled": value,
                "sampled_se": se,
                "exact": exact,
                "z": (value - exact) / se if se > 0 else 0.0,
            }
        )
    return pd.DataFrame(rows)


def validation_table(row: Mapping[str, Any], z_max: float = Z_PASS) -> pd.DataFrame:
    """Estimate, SE, exact value, z, resolved and pass/fail (|z| < z_max) of a
    summary row (an unresolved quantity neither passes nor fails).

    Rows follow ``VALIDATION_ROWS`` for the keys present in ``row`` (as
    ``key``, ``key_se``, ``key_exact``, ``key_z``).
    """
    out = []
    for key, label in VALIDATION_ROWS.items():
        if key not in row:
            continue
        z = _float(row.get(f"{key}_z"))
        resolved = bool(row.get(f"{key}_resolved", True))
        out.append(
            {
                "key": key,
                "quantity": label,
                "estimate": _float(row[key]),
                "se": _float(row.get(f"{key}_se")),
                "exact": _float(row.get(f"{key}_exact")),
                "z": z,
                "resolved": resolved,
                "pass": bool(math.isfinite(z) and abs(z) < z_max),
            }
        )
    return pd.DataFrame(out)


def markdown_validation(table: pd.DataFrame, z_max: float = Z_PASS) -> str:
    """The validation table in Markdown, with the pass criterion in its header."""
    head = (
        f"| quantity | estimate | SE | exact | z | pass (abs(z) < {z_max:g}) |\n"
        "| --- | ---: | ---: | ---: | ---: | :---: |"
    )
    lines = [head]
    for r in table.to_dict("records"):
        z = r["z"]
        z = (
            "n/a"
            if not math.isfinite(z)
            else f"{z:+.2f}"
            if abs(z) < 1e4
            else f"{z:+.2e}"
        )
        if not r.get("resolved", True):
            lines.append(
                f"| {_cell(r['quantity'])} | {_g(r['estimate'])} | – "
                f"| {_g(r['exact'])} | – | not resolved |"
            )
            continue
        lines.append(
            f"| {_cell(r['quantity'])} | {_g(r['estimate'])} | {_g(r['se'], 2)} "
            f"| {_g(r['exact'])} | {z} | {'pass' if r['pass'] else 'FAIL'} |"
        )
    return "\n".join(lines)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain Markdown table of ``rows`` (mappings) with the given columns."""
    lines = [
        "| " + " | ".join(map(_cell, columns)) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def format_z(z: float) -> str:
    """A z-score as +1.23 (+1.23e+05 when huge, n/a when undefined)."""
    if not math.isfinite(z):
        return "n/a"
    return f"{z:+.2f}" if abs(z) < 1e4 else f"{z:+.2e}"


def _cell(x: Any) -> str:
    """A Markdown table cell: the text with its pipes escaped."""
    return str(x).replace("|", "\\|")


def _float(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _g(x: float, digits: int = 6) -> str:
    return f"{x:.{digits}g}" if math.isfinite(x) else "n/a"


# ------------------------------------------------------------------------ figures


def save_figure(fig: Figure, path: Path, dpi: int = 110) -> Path:
    """Render ``fig`` to a PNG with the Agg backend (headless)."""
    FigureCanvasAgg(fig)
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    return path


def _figure(width: float, height: float) -> Figure:
    import matplotlib as mpl

    with mpl.rc_context(FONT):
        fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def basis_labels(dims: tuple[int, int]) -> list[str]:
    """Labels |a b> of the relabelled filtered basis, flat index a * d_B + b."""
    d_A, d_B = dims
    return [f"|{a}{b}⟩" for a in range(d_A) for b in range(d_B)]


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
    annotate = k <= 6
    size = min(3.0 + 0.45 * k, 6.0)
    tick_font = 10 if k <= 8 else 8
    fig = _figure(2 * size + 0.8, 2 * size)
    axes = fig.subplots(2, 2)
    panels = [
        (est.real, None if se is None else np.real(se), "estimate, Re ρ'"),
        (ex.real, None, "exact, Re ρ'"),
        (est.imag, None if se is None else np.imag(se), "estimate, Im ρ'"),
        (ex.imag, None, "exact, Im ρ'"),
    ]
    image = None
    for ax, (data, err, name) in zip(axes.flat, panels, strict=True):
        image = ax.imshow(data, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(name, fontsize=12)
        ticks = np.arange(k)
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        if labels:
            ax.set_xticklabels(labels, fontsize=tick_font, rotation=90 if k > 8 else 0)
            ax.set_yticklabels(labels, fontsize=tick_font)
        ax.set_xlabel("column (bra)", fontsize=10)
        ax.set_ylabel("row (ket)", fontsize=10)
        if annotate:
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
    fig.colorbar(image, ax=axes, shrink=0.7, label="matrix element")
    fig.suptitle(title, fontsize=13)
    return fig


def measures_figure(table: pd.DataFrame, title: str = "") -> Figure:
    """Each quantity's estimate with its 95% CI against the exact value.

    ``table`` has columns ``quantity``, ``value``, ``se``, ``exact`` and optionally
    ``ci_low``, ``ci_high`` (else value +- 1.96 SE); one panel per row, since the
    quantities live on different scales. A NaN SE marks a quantity the sample does
    not resolve (no interval).
    """
    m = len(table)
    fig = _figure(max(2.4 * m, 4.0), 3.4)
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


def waiting_time_figure(
    table: pd.DataFrame, attempt_period: float, p_suc: float, title: str = ""
) -> Figure:
    """Histogram of K (attempts until the first success) with the exact law and the
    geometric law overlaid (log scale), waiting time K T on the top axis."""
    fig = _figure(8.0, 4.6)
    ax = fig.subplots()
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
    ax.set_xlabel("K (attempts until the first success)")
    ax.set_ylabel("probability P(K = k)")
    ax.set_xlim(0.3, k.max() + 0.7)
    top = ax.secondary_xaxis(
        "top",
        functions=(lambda x: x * attempt_period, lambda w: w / attempt_period),
    )
    top.set_xlabel(f"waiting time K T ({TIME_UNIT})")
    a = table.attrs
    handles, labels = ax.get_legend_handles_labels()
    blank = Line2D([], [], linestyle="none")
    handles += [blank, blank]
    labels += [
        f"P(K > {k.max()}): sampled {a['sampled_tail']:.4g} ± "
        f"{a['sampled_tail_se']:.2g}, exact {a['exact_tail']:.4g}, "
        f"geometric {a['geometric_tail']:.4g}",
        f"total variation (exact, geometric) = {a['tv_exact_geometric']:.3g}",
    ]
    ax.legend(handles, labels, loc="best", fontsize=9, framealpha=0.9)
    ax.grid(alpha=0.3, which="major")
    if title:
        ax.set_title(title)
    return fig


def bank_success_figure(
    table: pd.DataFrame, p: float, configured: int | None = None, title: str = ""
) -> Figure:
    """P(at least one success in a round) against bank size n, with 1 - (1 - p)^n.

    ``configured``: the run's bank size, marked by a vertical line.
    """
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig = _figure(6.8, 4.4)
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
    ax.set_xscale("log", base=2)
    ax.set_xticks(table["n"].to_numpy())
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("bank size n (machines attempting in lockstep)")
    ax.set_ylabel("P(≥ 1 success in a round)")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    if title:
        ax.set_title(title)
    return fig


def _numeric(values: Sequence[Any]) -> bool:
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
    fig = _figure(4.4 * cols, 3.5 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    x_all = summary[param].tolist()
    numeric = _numeric(x_all)
    if not numeric:
        codes = {v: i for i, v in enumerate(dict.fromkeys(map(str, x_all)))}
    groups = list(summary.groupby(series, sort=False)) if series else [(None, summary)]
    for ax, q in zip(axes, qs, strict=False):
        for i, (name, sub) in enumerate(groups):
            color = f"C{i % 10}"
            x = (
                sub[param].to_numpy(dtype=float)
                if numeric
                else np.array([codes[str(v)] for v in sub[param]])
            )
            suffix = "" if name is None else f" ({name})"
            se = sub.get(f"{q}_se")
            yerr = None if se is None else Z_95 * se.to_numpy(dtype=float)
            ax.errorbar(
                x,
                sub[q].to_numpy(dtype=float),
                yerr=yerr,
                fmt="o",
                color=color,
                capsize=4,
                label=f"estimate, 95% CI{suffix}",
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
            if curves is not None and q in curves:
                c = curves if name is None else curves[curves[series] == name]
                c = c.sort_values(param)
                ax.plot(
                    c[param].to_numpy(dtype=float),
                    c[q].to_numpy(dtype=float),
                    "-",
                    color=color,
                    lw=1.2,
                )
        if numeric:
            xs = np.asarray(x_all, dtype=float)
            if np.all(xs > 0) and xs.max() / xs.min() >= 20:
                ax.set_xscale("log")
        else:
            ax.set_xticks(list(codes.values()))
            ax.set_xticklabels(list(codes.keys()))
        ax.set_xlabel(param_label or param)
        ax.set_ylabel(SWEEP_LABELS.get(q, q))
        ax.grid(alpha=0.3)
    for ax in axes[len(qs) :]:
        ax.set_visible(False)
    if qs:
        handles, labels = axes[0].get_legend_handles_labels()
        if curves is not None:
            handles.append(Line2D([], [], color="0.2", lw=1.2))
            labels.append("exact (fine grid)")
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncol=min(len(labels), 4),
            fontsize=10,
        )
        fig.suptitle(f"summary quantities against {param_label or param}", fontsize=13)
    return fig
