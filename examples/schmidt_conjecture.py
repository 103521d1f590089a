"""Numerical test of the conjecture of App. D (Eqs. D4-D5) for d = 2..6.

The machine of Eq. D4 with g_k = g lambda_k, in the reset model (Eq. 4) at T_A = inf,
T_B = 0 and filtered by Pi_A = 1 - |d><d|, Pi_B = 1 - |0><0|, heralds a state rho'
whose fidelity deficit 1 - F to the Schmidt state of Eq. D5 is computed exactly and
fitted as 1 - F = a mu^b exp(c mu) over mu = p_A/p_B in [1e-7, 1e-4]. The closed form
c1 = (d - sum lambda^4)/(d + 1) is the exact coefficient of mu (independent of g/p_B).

Three tables: random Schmidt vectors (fixed seeds) at three values of g/p_B; special
Schmidt vectors (zero coefficient, product state, very unequal, uniform), with the
negativity of rho' relative to that of the target; a random search over 100 Schmidt
vectors and couplings for a violation of the closed forms. All rows are written to
examples/output/schmidt_conjecture.csv.

    python examples/schmidt_conjecture.py
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from analysis.measures import negativity
from trajectories.paper.schmidt_study import (
    DeficitScaling,
    deficit_prefactor,
    deficit_scaling,
    deficit_second_order,
    fidelity_deficit,
    heralded_state,
    linear_coefficient,
    random_schmidt,
    target_negativity,
)

OUTPUT = Path(__file__).resolve().parent / "output" / "schmidt_conjecture.csv"
DIMENSIONS = range(2, 7)
G_OVER_PB = (0.01, 1.0, 100.0)
TABLE_MUS = (1e-2, 1e-4, 1e-6)
SPECIAL = {
    "zero coefficient": [0.6, 0.0, 0.8],
    "two zeros, d=5": [0.5, 0.0, 0.5, 0.0, 1.0],
    "product state": [1.0, 0.0, 0.0, 0.0],
    "very unequal": [1.0, 1e-4],
    "very unequal, d=6": [1.0, 1.0, 1.0, 1.0, 1.0, 1e-4],
    "uniform, d=6": [1.0] * 6,
}
SEARCH_SEED = 2024
SEARCH_SIZE = 100
FIELDS = (
    "table",
    "case",
    "d",
    "lambdas",
    "g_over_pB",
    "mu",
    "deficit",
    "deficit_second_order",
    "p_suc",
    "negativity",
    "target_negativity",
    "exponent",
    "exponent_stderr",
    "prefactor",
    "c1",
)


def _normalise(lam: list[float]) -> np.ndarray:
    v = np.asarray(lam, dtype=float)
    return v / np.linalg.norm(v)


def _fmt(lam: np.ndarray) -> str:
    return "(" + ", ".join(f"{x:.3g}" for x in lam) + ")"


def _row(
    table: str, case: str, lam: np.ndarray, g: float, mu: float, fit: DeficitScaling
) -> dict[str, object]:
    rho, _, p_suc = heralded_state(lam, mu, g)
    c1, c2 = deficit_prefactor(lam), deficit_second_order(lam, g)
    return {
        "table": table,
        "case": case,
        "d": lam.size,
        "lambdas": ";".join(f"{x:.17g}" for x in lam),
        "g_over_pB": g,
        "mu": mu,
        "deficit": fidelity_deficit(lam, mu, g),
        "deficit_second_order": c1 * mu + c2 * mu**2,
        "p_suc": p_suc,
        "negativity": negativity(rho),
        "target_negativity": target_negativity(lam),
        "exponent": fit.exponent,
        "exponent_stderr": fit.exponent_stderr,
        "prefactor": fit.prefactor,
        "c1": c1,
    }


def random_vectors_table(rows: list[dict[str, object]]) -> None:
    """Fitted exponent and prefactor of 1 - F for random Schmidt vectors, d = 2..6."""
    print("Random Schmidt vectors (lambda^2 uniform on the simplex, seed = d)")
    head = f"{'d':>2} {'g/p_B':>6} {'lambdas':<44}"
    head += "".join(f" {'1-F @' + format(m, '.0e'):>11}" for m in TABLE_MUS)
    print(head + f" {'exponent':>13} {'prefactor':>11} {'c1 (closed)':>11}")
    for d in DIMENSIONS:
        lam = random_schmidt(d, seed=d)
        for g in G_OVER_PB:
            fit = deficit_scaling(lam, g)
            new = [_row("random", f"seed={d}", lam, g, mu, fit) for mu in TABLE_MUS]
            rows.extend(new)
            line = f"{d:>2} {g:>6g} {_fmt(lam):<44}"
            line += "".join(f" {r['deficit']:>11.4e}" for r in new)
            print(
                line + f" {fit.exponent:>13.10f} {fit.prefactor:>11.8f}"
                f" {deficit_prefactor(lam):>11.8f}"
            )


def special_vectors_table(rows: list[dict[str, object]]) -> None:
    """Candidate counterexamples: zero, product, very unequal and uniform vectors."""
    print(
        "\nSpecial Schmidt vectors (g/p_B = 1): N' / N(target) is the negativity ratio"
    )
    head = f"{'case':<18} {'d':>2} {'exponent':>13} {'prefactor':>11} {'c1':>11}"
    head += "".join(f" {'N ratio @' + format(m, '.0e'):>15}" for m in TABLE_MUS)
    print(head)
    for case, raw in SPECIAL.items():
        lam = _normalise(raw)
        fit = deficit_scaling(lam, 1.0)
        new = [_row("special", case, lam, 1.0, mu, fit) for mu in TABLE_MUS]
        rows.extend(new)
        ratios = [
            f"{r['negativity'] / r['target_negativity']:>15.6f}"
            if r["target_negativity"] > 0
            else f"{'n/a':>15}"
            for r in new
        ]
        line = f"{case:<18} {lam.size:>2} {fit.exponent:>13.10f} {fit.prefactor:>11.8f}"
        line += f" {deficit_prefactor(lam):>11.8f}"
        print(line + "".join(f" {x}" for x in ratios))


def random_search(rows: list[dict[str, object]]) -> None:
    """Random search for a violation of the closed forms of c1 and c2."""
    rng = np.random.default_rng(SEARCH_SEED)
    worst_c1 = worst_c2 = 0.0
    mu = 1e-3
    for i in range(SEARCH_SIZE):
        d = int(rng.integers(2, 7))
        lam = np.sqrt(rng.dirichlet(np.full(d, rng.choice([0.02, 0.2, 1.0, 20.0]))))
        if rng.random() < 0.3:
            lam[rng.integers(d)] = 0.0
        if not np.any(lam > 0):
            continue
        lam = lam / np.linalg.norm(lam)
        g = float(10 ** rng.uniform(-3, 3))
        c1, c2 = deficit_prefactor(lam), deficit_second_order(lam, g)
        worst_c1 = max(worst_c1, abs(linear_coefficient(lam, g) / c1 - 1))
        deficit = fidelity_deficit(lam, mu, g)
        worst_c2 = max(worst_c2, abs((deficit - c1 * mu) / mu**2 - c2) / abs(c2))
        rows.append(
            {
                "table": "search",
                "case": f"search {i}",
                "d": d,
                "lambdas": ";".join(f"{x:.17g}" for x in lam),
                "g_over_pB": g,
                "mu": mu,
                "deficit": deficit,
                "deficit_second_order": c1 * mu + c2 * mu**2,
                "c1": c1,
            }
        )
    print(
        f"\nRandom search, {SEARCH_SIZE} Schmidt vectors (d = 2..6, 30% with a zero, "
        "g/p_B in [1e-3, 1e3]):"
    )
    print(f"  max |d(1-F)/dmu at mu = 0 / c1 - 1|        = {worst_c1:.2e}")
    print(f"  max |((1-F) - c1 mu)/mu^2 / c2 - 1|, mu=1e-3 = {worst_c2:.2e}  (O(mu))")


def main() -> None:
    """Print the tables and write examples/output/schmidt_conjecture.csv."""
    start = time.perf_counter()
    rows: list[dict[str, object]] = []
    random_vectors_table(rows)
    special_vectors_table(rows)
    random_search(rows)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with OUTPUT.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    elapsed = time.perf_counter() - start
    print(f"\n{len(rows)} rows written to {OUTPUT} in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
