"""Fig. 5(b): negativity of rho' over the (T_A, T_B) plane, Lindblad model of Eq. F6.

Parameters of the caption, (Gamma_A, Gamma_B, gamma, g, eps) = (1e-4, 5e-3, 3.5e-5,
1.6e-3, 3) in units of the first gap of A (1 GHz), exact steady state on a 60 x 60 log
grid T_A in [0.05, 20], T_B in [0.02, 2], for each reading of
``trajectories.paper.lindblad.VARIANTS`` (gamma of App. F, gamma = 0, g1 = g2 = g,
Pauli dephasing, g in angular units, B coupled on 01 and 02 only as in F3-F4).

Writes examples/figures/fig5b.png (the printed model and the F3-F4 reading, with the
caption's contours 1e-5, 0.2, 0.4, 0.48 and the p_suc = 1%, 5% lines),
fig5b_variants.png (largest N at p_suc >= p for every reading) and fig5b.csv (every
grid point of every reading), and prints the maxima and the N-p_suc trade-off.

    python examples/fig5b.py      # ~2 min on one core
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))  # for plotting.py

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray
from plotting import FIGURES, save, write_table

from trajectories.paper.lindblad import (
    FIG5B_LEVELS,
    VARIANTS,
    Variant,
    frontier,
    scan,
)

T_A_GRID = np.logspace(math.log10(0.05), math.log10(20.0), 60)
T_B_GRID = np.logspace(math.log10(0.02), math.log10(2.0), 60)
P_THRESHOLDS = (1e-3, 1e-2, 3e-2, 5e-2)
PANELS = {
    "printed": "Eq. F6 as printed (caption: $\\gamma$=3.5e-5, $g_1=g_2=g/\\sqrt{2}$)",
    "F3F4": "B coupled on 01, 02 only (F3-F4), otherwise as caption",
}
"""The readings drawn over the plane in fig5b.png, with their panel titles."""
TEXT_CLAIM = "text: N 0.2-0.4 at $p_{suc}$ 3-5%"
"""Label of the band p_suc in [3%, 5%] that the text of App. F speaks of."""

Grids = dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]
"""Reading -> (negativity, p_suc) on T_A_GRID x T_B_GRID."""


def refine_max(
    variant: Variant, N: NDArray[np.float64]
) -> tuple[float, float, float, float]:
    """Refine the grid maximum on a 9 x 9 log grid spanning its neighbouring cells.

    Returns (N, p_suc, T_A, T_B) at the refined maximum (clipped to the grid box).
    """
    i, j = np.unravel_index(int(N.argmax()), N.shape)
    ta = np.geomspace(T_A_GRID[max(i - 1, 0)], T_A_GRID[min(i + 1, N.shape[0] - 1)], 9)
    tb = np.geomspace(T_B_GRID[max(j - 1, 0)], T_B_GRID[min(j + 1, N.shape[1] - 1)], 9)
    Nf, Pf = scan(variant, ta, tb)
    k, m = np.unravel_index(int(Nf.argmax()), Nf.shape)
    return float(Nf[k, m]), float(Pf[k, m]), float(ta[k]), float(tb[m])


def heatmap(
    ax: plt.Axes, N: NDArray[np.float64], P: NDArray[np.float64], title: str
) -> matplotlib.image.AxesImage:
    """N over the plane with the caption's contours and the p_suc = 1%, 5% lines."""
    X, Y = np.meshgrid(T_A_GRID, T_B_GRID, indexing="ij")
    mesh = ax.pcolormesh(X, Y, N, vmin=0, vmax=0.5, cmap="viridis", shading="auto")
    levels = [lv for lv in FIG5B_LEVELS if lv < N.max()]
    cs = ax.contour(X, Y, N, levels=levels, colors="k", linewidths=1.2)
    ax.clabel(cs, fmt={lv: f"{lv:g}" for lv in levels}, fontsize=9)
    cp = ax.contour(
        X, Y, P, levels=[0.01, 0.05], colors="w", linestyles="--", linewidths=1.2
    )
    ax.clabel(cp, fmt={0.01: "p=1%", 0.05: "p=5%"}, fontsize=9)
    missing = [f"{lv:g}" for lv in FIG5B_LEVELS if lv >= N.max()]
    if missing:
        note = f"max N = {N.max():.3f}\nno contour {', '.join(missing)}"
        ax.text(
            0.03, 0.97, note, transform=ax.transAxes, va="top", fontsize=9, color="w"
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("$T_A$ (units of first gap of A, 1 GHz)")
    ax.set_ylabel("$T_B$ (units of first gap of A, 1 GHz)")
    ax.set_title(title, fontsize=11)
    return mesh


def scan_all() -> Grids:
    """Scan every reading; print its grid and refined maxima and its trade-off."""
    results = {}
    header = "reading".ljust(38) + "max N (grid)  refined  p_suc    T_A     T_B  "
    header += "  ".join(f"N|p>={p:g}" for p in P_THRESHOLDS)
    print(header)
    for key, variant in VARIANTS.items():
        N, P = scan(variant, T_A_GRID, T_B_GRID)
        n_ref, p_ref, ta, tb = refine_max(variant, N)
        results[key] = (N, P)
        row = f"{variant.label:<38}{N.max():.5f}      {n_ref:.5f}  {p_ref:.1e} "
        row += f"{ta:6.3f}  {tb:6.3f}  "
        row += "  ".join(f"{frontier(N, P, p):.3f}   " for p in P_THRESHOLDS)
        print(row, flush=True)
    return results


def grid_rows(results: Grids) -> Iterator[list[str]]:
    """The rows of fig5b.csv: every grid point of every reading."""
    for key, (N, P) in results.items():
        for i, ta in enumerate(T_A_GRID):
            for j, tb in enumerate(T_B_GRID):
                yield [
                    key,
                    f"{ta:.6g}",
                    f"{tb:.6g}",
                    f"{N[i, j]:.8g}",
                    f"{P[i, j]:.8g}",
                ]


def plot_planes(results: Grids, path: Path) -> None:
    """N over the (T_A, T_B) plane for the readings of ``PANELS``, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.4), constrained_layout=True)
    for ax, (key, title) in zip(axes, PANELS.items(), strict=True):
        mesh = heatmap(ax, *results[key], title)
    fig.colorbar(mesh, ax=axes, label="negativity of $\\rho'$")
    fig.suptitle(
        "Fig. 5(b): negativity, Lindblad model (contours 1e-5, 0.2, 0.4, "
        "0.48; dashed: $p_{suc}$)",
        fontsize=12,
    )
    save(fig, path, dpi=120)


def plot_tradeoff(results: Grids, path: Path) -> None:
    """The largest N at p_suc >= p against p, one curve per reading."""
    fig, ax = plt.subplots(figsize=(8.5, 5.5), constrained_layout=True)
    ps = np.logspace(-8, math.log10(0.4), 200)
    for key, (N, P) in results.items():
        ax.plot(
            ps,
            [frontier(N, P, p) for p in ps],
            label=VARIANTS[key].label,
            lw=2 if key in PANELS else 1.3,
        )
    for lv in FIG5B_LEVELS[1:]:
        ax.axhline(lv, color="grey", ls=":", lw=0.8)
    ax.axvspan(0.03, 0.05, color="orange", alpha=0.15, label=TEXT_CLAIM)
    ax.set_xscale("log")
    ax.set_xlabel("success probability threshold $p$")
    ax.set_ylabel("max negativity over the plane with $p_{suc} \\geq p$")
    ax.set_title("Fig. 5(b) readings: negativity vs success probability trade-off")
    ax.set_ylim(0, 0.5)
    ax.legend(fontsize=8.5, loc="lower left")
    save(fig, path, dpi=120)


def main() -> None:
    """Scan every reading, print the maxima and trade-offs, write figures and CSV."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results = scan_all()
    print(f"scans: {time.perf_counter() - t0:.1f} s")
    header = ["variant", "T_A", "T_B", "negativity", "p_suc"]
    write_table(FIGURES / "fig5b.csv", header, grid_rows(results))
    plot_planes(results, FIGURES / "fig5b.png")
    plot_tradeoff(results, FIGURES / "fig5b_variants.png")
    print(f"total: {time.perf_counter() - t0:.1f} s; wrote {FIGURES}/fig5b*.png, csv")


if __name__ == "__main__":
    main()
