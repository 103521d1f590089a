"""Coverage of the 95% intervals over many seeds (``trajectories.validation.coverage``).

    python examples/coverage_study.py --jobs 2        # 200 seeds per case (~2 min)
    python examples/coverage_study.py --seeds 20      # a quick look

For each case (both models, kept dimensions d = 2..4, p_suc from 0.30 down to 1e-12,
short and long attempt periods) every seed is an independent run of the heralding
protocol; the script prints, per quantity, how many seeds resolved it and how often
its interval covered the exact value, with a 95% Clopper-Pearson band, and writes
``examples/figures/coverage.csv`` (per case and quantity) and
``coverage_hits.csv`` (per seed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from joblib import Parallel, delayed

from trajectories.system.machines import one_step, qudit, qutrit
from trajectories.system.models import LindbladModel, ResetModel
from trajectories.validation.coverage import CoverageCase, coverage_table, interval_hits

FIG5B = LindbladModel(
    qutrit(g=0.0016, eps=3.0),
    T_A=6.0,
    T_B=0.3,
    Gamma_A=1e-4,
    Gamma_B=5e-3,
    dephasing=3.5e-5,
)

CASES = (
    CoverageCase(
        "qutrit reset, p_suc 0.30, T = 20",
        ResetModel(qutrit(g=0.2), 0.05, 0.01, T_A="inf", T_B=0.0),
        20.0,
        20,
        2500,
    ),
    CoverageCase(
        "qutrit reset, p_suc 0.048, T = 200",
        ResetModel(qutrit(g=0.01), 0.002, 0.01, T_A="inf", T_B=0.0),
        200.0,
        10,
        14000,
    ),
    CoverageCase(
        "qudit d=3 reset, p_suc 0.038, T = 300",
        ResetModel(qudit(3, g=0.01), 0.002, 0.01, T_A="inf", T_B=0.0),
        300.0,
        5,
        18000,
    ),
    CoverageCase(
        "qudit d=4 reset, p_suc 0.031, T = 10",
        ResetModel(qudit(4, g=0.01), 0.002, 0.01, T_A="inf", T_B=0.0),
        10.0,
        4,
        30000,
    ),
    CoverageCase(
        "one-step d=4 reset, p_suc 1.0e-12, T = 1000",
        ResetModel(one_step(4, g=1e-6, g1=5e-4), 1e-6, 1e-3, T_A="inf", T_B=0.0),
        1000.0,
        2,
        20000,
    ),
    CoverageCase("Lindblad Fig. 5(b), p_suc 0.016, T = 2000", FIG5B, 2000.0, 5, 25000),
    CoverageCase("Lindblad Fig. 5(b), p_suc 0.016, T = 50", FIG5B, 50.0, 20, 20000),
)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Run the study; return the coverage table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200, help="seeds per case")
    parser.add_argument("--jobs", type=int, default=1, help="parallel workers")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "figures")
    args = parser.parse_args(argv)
    tasks = [(c, 1000 * i + s) for i, c in enumerate(CASES) for s in range(args.seeds)]
    rows = Parallel(n_jobs=args.jobs)(delayed(interval_hits)(c, s) for c, s in tasks)
    hits = pd.DataFrame([r for chunk in rows for r in chunk])
    table = coverage_table(hits)
    args.out.mkdir(parents=True, exist_ok=True)
    hits.to_csv(args.out / "coverage_hits.csv", index=False)
    table.to_csv(args.out / "coverage.csv", index=False)
    print(format_table(table))
    return table


def format_table(table: pd.DataFrame) -> str:
    """One line per case and quantity: resolved seeds, coverage and its band."""
    lines = []
    for case, g in table.groupby("case", sort=False):
        lines.append(case)
        for r in g.itertuples():
            if r.resolved:
                lines.append(
                    f"  {r.quantity:<14} {r.resolved:>4}/{r.seeds} resolved   "
                    f"coverage {r.coverage:.3f}  [{r.low:.3f}, {r.high:.3f}]"
                )
            else:
                lines.append(f"  {r.quantity:<14}    0/{r.seeds} resolved")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
