"""App. G: the optimal negativities of the qubit-qubit and qubit-qutrit machines.

Evaluates Eqs. G2, G4, G7 and G11 with ``trajectories.paper.small_machines`` (closed
forms checked against the exact steady states in tests/test_paper_small_machines.py)
and prints them next to the values quoted in the paper; writes the table to
examples/figures/app_g.csv.

    python examples/app_g.py      # < 1 s
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))  # for plotting.py

from plotting import FIGURES, write_records

from analysis.measures import purity
from trajectories.paper.small_machines import (
    G2_QUOTED,
    G7_QUOTED,
    G11_PURITY,
    qubit_qubit_inverted_optimum,
    qubit_qubit_negativity,
    qubit_qubit_optimum,
    qubit_qutrit_inverted_optimum,
    qubit_qutrit_negativity,
    qubit_qutrit_optimum,
    qubit_qutrit_state,
)


def table() -> list[dict[str, object]]:
    """Rows: equation, quantity, paper's value, ours, and where ours is attained."""
    return qubit_qubit_rows() + qubit_qutrit_rows()


def qubit_qubit_rows() -> list[dict[str, object]]:
    """Eqs. G2 and G4: the qubit-qubit machine."""
    g2 = qubit_qubit_optimum()
    g4 = qubit_qubit_inverted_optimum()
    q2 = G2_QUOTED
    return [
        {
            "equation": "G2",
            "quantity": "max N, qubit-qubit, T_A=inf, T_B=0",
            "paper": q2["negativity"],
            "ours": g2.negativity,
            "where": f"g/p_B={g2.params['g']:.7f}, p_A/p_B={g2.params['p_A']:.7f}",
        },
        {
            "equation": "G2",
            "quantity": "N at the quoted g, p_A, p_B",
            "paper": q2["negativity"],
            "ours": qubit_qubit_negativity(q2["g"], q2["p_A"], q2["p_B"]),
            "where": "g=2.2e-3, p_A=2.3e-3, p_B=9.5e-3",
        },
        {
            "equation": "G4",
            "quantity": "max N, qubit-qubit, T_A->0^-, p_A=p_B",
            "paper": "(sqrt3-1)/8",
            "ours": g4.negativity,
            "where": "g = p_B/(1 + sqrt 3)",
        },
        {
            "equation": "G4",
            "quantity": "purity at the G4 optimum",
            "paper": 0.758,
            "ours": g4.purity,
            "where": "(13 + 3 sqrt 3)/24",
        },
    ]


def qubit_qutrit_rows() -> list[dict[str, object]]:
    """Eqs. G7 and G11: the qubit-qutrit machine."""
    g7 = qubit_qutrit_optimum()
    g11 = qubit_qutrit_inverted_optimum()
    q7 = G7_QUOTED
    at_g7 = (q7["g1"], q7["g2"], q7["p_A"])
    return [
        {
            "equation": "G7",
            "quantity": "max N, qubit-qutrit (supremum)",
            "paper": q7["negativity"],
            "ours": g7.negativity,
            "where": "(sqrt2-1)/4 as g2/g1 -> 0, p_A/g2 = 2 sqrt(2 + 2 sqrt 2)",
        },
        {
            "equation": "G7",
            "quantity": "N at the quoted g1, g2, p_A",
            "paper": q7["negativity"],
            "ours": qubit_qutrit_negativity(*at_g7),
            "where": "g1=9.2e-3, g2=4.8e-7, p_A=2.1e-6",
        },
        {
            "equation": "G7",
            "quantity": "purity at the G7 supremum",
            "paper": q7["purity"],
            "ours": g7.purity,
            "where": "11/16 in the limit",
        },
        {
            "equation": "G7",
            "quantity": "purity at the quoted g1, g2, p_A",
            "paper": q7["purity"],
            "ours": purity(qubit_qutrit_state(*at_g7)),
            "where": "g1=9.2e-3, g2=4.8e-7, p_A=2.1e-6",
        },
        {
            "equation": "G11",
            "quantity": "max N, qubit-qutrit, T_A->0^- (supremum)",
            "paper": "1/(2+2 sqrt6)",
            "ours": g11.negativity,
            "where": "K = p_A/g1 = sqrt(6 + 2 sqrt 6), g1/g2 -> 0",
        },
        {
            "equation": "G11",
            "quantity": "purity at the G11 optimum",
            "paper": "not quoted",
            "ours": g11.purity,
            "where": f"(27 + 3 sqrt 6)/50 = {G11_PURITY:.6f}",
        },
    ]


def main() -> None:
    """Print the table and write the CSV."""
    FIGURES.mkdir(exist_ok=True)
    rows = table()
    write_records(FIGURES / "app_g.csv", rows)
    print(f"{'eq':>4} {'quantity':<42} {'paper':>14} {'ours':>14}  where")
    for r in rows:
        paper = r["paper"]
        paper_s = f"{paper:.4g}" if isinstance(paper, float) else str(paper)
        print(
            f"{r['equation']:>4} {r['quantity']:<42} {paper_s:>14} "
            f"{r['ours']:14.10f}  {r['where']}"
        )
    print(
        f"closed forms: (sqrt3-1)/8 = {(math.sqrt(3) - 1) / 8:.10f}, "
        f"1/(2+2 sqrt6) = {1 / (2 + 2 * math.sqrt(6)):.10f}"
    )
    print(f"wrote {FIGURES / 'app_g.csv'}")


if __name__ == "__main__":
    main()
