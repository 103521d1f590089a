"""Fig. 6: negativity and CHSH of the one-step machine's limit state vs d (App. E).

The g -> 0 limit varrho'_d of Eq. E3 (``trajectories.paper.one_step.limit_state``,
g_1 = p_B/2, p_A = g_2 = ... = g, T_A = inf, T_B = 0, reset model) for d = 3..20,
its negativity eta_d and maximal CHSH value 2 sqrt(1 + 4 eta_d^2), with the paper's
exact eta_3..eta_8 (Eqs. E4-E9) and its d = 20 values 0.4926 / 2.8075 marked.

Writes examples/figures/fig6.{png,csv}.

    python examples/fig6.py      # < 2 s
"""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from analysis.measures import chsh_max, negativity
from trajectories.paper.one_step import (
    ETA,
    FIG6_D20,
    e3_chsh,
    limit_state,
)

FIGURES = Path(__file__).resolve().parent / "figures"
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


def main() -> None:
    """Compute the limit states, print them, write the figure and CSV."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    rows = fig6_rows()
    with open(FIGURES / "fig6.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for r in rows:
        print(
            f"d={r['d']:2d}  N={r['negativity']:.6f}  CHSH={r['chsh']:.6f}  "
            f"eta={r['eta_exact'] or '-'}  paper N={r['paper_negativity']}"
        )

    d = [r["d"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    ax1.plot(d, [r["negativity"] for r in rows], "o-", label="limit state (E3), ours")
    pd = [r["d"] for r in rows if r["paper_negativity"] != ""]
    ax1.plot(
        pd,
        [r["paper_negativity"] for r in rows if r["paper_negativity"] != ""],
        "x",
        ms=11,
        mew=2.2,
        color="C3",
        label="paper: $\\eta_3..\\eta_8$ (E4-E9), 0.4926 at d=20",
    )
    ax1.axhline(0.5, color="grey", ls=":", label="1/2 (conjectured limit)")
    ax1.set_xlabel("local dimension d")
    ax1.set_ylabel("negativity of $\\varrho'_d$ (dimensionless)")
    ax1.set_title("Fig. 6: negativity vs d")
    ax1.legend(fontsize=9)
    ax2.plot(d, [r["chsh"] for r in rows], "o-", color="C2", label="limit state, ours")
    ax2.plot(
        pd,
        [r["paper_chsh"] for r in rows if r["paper_chsh"] != ""],
        "x",
        ms=11,
        mew=2.2,
        color="C3",
        label="paper: from $\\eta_3..\\eta_8$, 2.8075 at d=20",
    )
    ax2.axhline(2 * 2**0.5, color="grey", ls=":", label="$2\\sqrt{2}$")
    ax2.set_xlabel("local dimension d")
    ax2.set_ylabel("maximal CHSH value (dimensionless)")
    ax2.set_title("CHSH of the limit state vs d")
    ax2.legend(fontsize=9)
    for ax in (ax1, ax2):
        ax.set_xticks(list(d))
        ax.tick_params(labelsize=9)
    fig.savefig(FIGURES / "fig6.png", dpi=120)
    plt.close(fig)
    print(f"wrote {FIGURES}/fig6.png, fig6.csv")


if __name__ == "__main__":
    main()
