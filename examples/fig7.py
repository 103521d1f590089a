"""Fig. 7: negativity of the one-step limit state vs the relaxed coupling (Eq. E10).

g_1 = gamma p_B (App. E calls the ratio g), d = 3, 4: the closed forms of Eq. E10
(``relaxed_negativity``; d = 3 corrected to 3 gamma/(2 + 8 gamma^2), the printed
(3 - gamma)/(2 + 8 gamma) shown dashed), with points from the exact g -> 0 limit state
(``limit_state(d, gamma, exact=True)``, exact rationals) overlaid.

Writes examples/figures/fig7.{png,csv}.

    python examples/fig7.py      # < 2 s
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))  # for plotting.py

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from plotting import FIGURES, save, write_table

from analysis.measures import negativity
from trajectories.paper.one_step import limit_state, relaxed_negativity

GAMMA_MAX = 3.0
POINTS = [Fraction(k, 8) for k in range(1, 25)]


def limit_points(d: int) -> list[tuple[Fraction, float, Fraction]]:
    """(gamma, negativity of the exact limit state, E10) at the rational POINTS."""
    out = []
    for gam in POINTS:
        lim = limit_state(d, gam, exact=True)
        out.append((gam, negativity(lim.matrix()), relaxed_negativity(d, gam)))
    return out


def csv_rows(
    pts: dict[int, list[tuple[Fraction, float, Fraction]]],
) -> list[list[object]]:
    """Rows d, gamma, N(limit state), E10 and (d = 3) E10 as printed."""
    out = []
    for d, rows in pts.items():
        for gam, n, e10 in rows:
            printed = float((3 - gam) / (2 + 8 * gam)) if d == 3 else ""
            out.append([d, float(gam), f"{n:.12g}", f"{float(e10):.12g}", printed])
    return out


def plot(pts: dict[int, list[tuple[Fraction, float, Fraction]]], path: Path) -> None:
    """E10 (lines, printed d = 3 form dashed) and the exact limit states (circles)."""
    x = np.linspace(0, GAMMA_MAX, 400)
    fig, ax = plt.subplots(figsize=(8, 5.2), constrained_layout=True)
    for d, color in ((3, "C0"), (4, "C1")):
        ax.plot(
            x,
            [relaxed_negativity(d, v) for v in x],
            color=color,
            label=f"E10, d={d}" + (" (corrected: $3g/(2+8g^2)$)" if d == 3 else ""),
        )
        ax.plot(
            [float(g) for g, _, _ in pts[d]],
            [n for _, n, _ in pts[d]],
            "o",
            color=color,
            mfc="none",
            ms=7,
            label=f"exact limit state, d={d}",
        )
    xs = x[x <= 3]
    ax.plot(
        xs,
        (3 - xs) / (2 + 8 * xs),
        "--",
        color="C0",
        alpha=0.6,
        label="E10 as printed, d=3: $(3-g)/(2+8g)$",
    )
    ax.axvline(0.5, color="grey", ls=":", lw=1, label="$g = 1/2$ (Eqs. E4, E5)")
    ax.set_xlabel("$g = g_1/p_B$ (dimensionless)")
    ax.set_ylabel("negativity of the $g\\to 0$ limit state (dimensionless)")
    ax.set_title("Fig. 7: negativity vs relaxed coupling $g_1 = g\\,p_B$")
    ax.set_xlim(0, GAMMA_MAX)
    ax.set_ylim(0, 0.6)
    ax.legend(fontsize=9)
    save(fig, path, dpi=120)


def main() -> None:
    """Evaluate E10 and the limit states, write the figure and CSV."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    pts = {d: limit_points(d) for d in (3, 4)}
    header = ["d", "gamma", "negativity_limit_state", "E10", "E10_printed_d3"]
    write_table(FIGURES / "fig7.csv", header, csv_rows(pts))
    for d, rows in pts.items():
        err = max(abs(n - float(e)) for _, n, e in rows)
        print(f"d={d}: max |N(limit state) - E10| over {len(rows)} points = {err:.1e}")
    plot(pts, FIGURES / "fig7.png")
    print(f"wrote {FIGURES}/fig7.png, fig7.csv")


if __name__ == "__main__":
    main()
