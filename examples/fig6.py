"""Fig. 6: negativity and CHSH of the one-step machine's limit state vs d (App. E).

The g -> 0 limit varrho'_d of Eq. E3 (``trajectories.paper.one_step.limit_state``,
g_1 = p_B/2, p_A = g_2 = ... = g, T_A = inf, T_B = 0, reset model) for d = 3..20,
its negativity eta_d and maximal CHSH value 2 sqrt(1 + 4 eta_d^2), with the paper's
exact eta_3..eta_8 (Eqs. E4-E9) and its d = 20 values 0.4926 / 2.8075 marked.

Writes examples/figures/fig6.{png,csv}.

    python examples/fig6.py      # < 2 s
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent))  # for plotting.py

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from plotting import FIGURES, save, write_records

from analysis.measures import chsh_max, negativity
from trajectories.paper.one_step import (
    ETA,
    FIG6_D20,
    e3_chsh,
    limit_state,
)

DS = range(3, 21)


def fig6_rows() -> list[dict[str, float | int | str]]:
    """One row per d: eta_d (exact fraction for d <= 8), negativity and CHSH of E3."""
    rows = []
    for d in DS:
        lim = limit_state(d, exact=d <= 8)
        rho = lim.matrix()
        paper_n = (
            float(ETA[d]) if d in ETA else FIG6_D20["negativity"] if d == 20 else ""
        )
        paper_c = e3_chsh(ETA[d]) if d in ETA else FIG6_D20["chsh"] if d == 20 else ""
        rows.append(
            {
                "d": d,
                "eta_exact": str(lim.eta) if isinstance(lim.eta, Fraction) else "",
                "negativity": negativity(rho),
                "chsh": chsh_max(rho),
                "paper_negativity": paper_n,
                "paper_chsh": paper_c,
            }
        )
    return rows


def panel(
    ax: Any,
    rows: list[dict[str, Any]],
    key: str,
    limit: tuple[float, str],
    labels: dict[str, str],
    **style: Any,
) -> None:
    """Our ``key`` against d, the paper's values where it gives them and a limit."""
    d = [r["d"] for r in rows]
    ax.plot(d, [r[key] for r in rows], "o-", label=labels["ours"], **style)
    known = [r for r in rows if r[f"paper_{key}"] != ""]
    ax.plot(
        [r["d"] for r in known],
        [r[f"paper_{key}"] for r in known],
        "x",
        ms=11,
        mew=2.2,
        color="C3",
        label=labels["paper"],
    )
    ax.axhline(limit[0], color="grey", ls=":", label=limit[1])
    ax.set_xlabel("local dimension d")
    ax.set_ylabel(labels["y"])
    ax.set_title(labels["title"])
    ax.legend(fontsize=9)
    ax.set_xticks(list(d))
    ax.tick_params(labelsize=9)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Negativity (left) and CHSH value (right) of the limit state against d."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    negativity_labels = {
        "ours": "limit state (E3), ours",
        "paper": "paper: $\\eta_3..\\eta_8$ (E4-E9), 0.4926 at d=20",
        "y": "negativity of $\\varrho'_d$ (dimensionless)",
        "title": "Fig. 6: negativity vs d",
    }
    panel(ax1, rows, "negativity", (0.5, "1/2 (conjectured limit)"), negativity_labels)
    chsh_labels = {
        "ours": "limit state, ours",
        "paper": "paper: from $\\eta_3..\\eta_8$, 2.8075 at d=20",
        "y": "maximal CHSH value (dimensionless)",
        "title": "CHSH of the limit state vs d",
    }
    panel(ax2, rows, "chsh", (2 * 2**0.5, "$2\\sqrt{2}$"), chsh_labels, color="C2")
    save(fig, path, dpi=120)


def main() -> None:
    """Compute the limit states, print them, write the figure and CSV."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    rows = fig6_rows()
    write_records(FIGURES / "fig6.csv", rows)
    for r in rows:
        print(
            f"d={r['d']:2d}  N={r['negativity']:.6f}  CHSH={r['chsh']:.6f}  "
            f"eta={r['eta_exact'] or '-'}  paper N={r['paper_negativity']}"
        )
    plot(rows, FIGURES / "fig6.png")
    print(f"wrote {FIGURES}/fig6.png, fig6.csv")


if __name__ == "__main__":
    main()
