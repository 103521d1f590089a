"""Fig. 2: maximal negativity and CHSH value of rho' against p_suc (two-qutrit machine).

Reset model (Eq. 4) at T_A = inf, T_B = 0, filters of Eq. 5. rho' and p_suc come from
the exact closed forms B2-B11 (``trajectories.paper.qutrit``). Both are homogeneous of
degree 0 in (g, p_A, p_B), so only x = g/p_B, mu = p_A/p_B and theta matter: the
perturbative regime g, p_A, p_B << 1, eps is imposed by the overall scale (here
p_B = 1e-5, so g <= 1e-2 for x <= 1e3), which drops out of every plotted number.

For each p_suc the negativity (and separately the CHSH value) is maximised over
(log x, log mu, theta) at p_suc fixed (SLSQP, three starts), with the ratio bound
x <= 1e3 (main curves) and x <= 1 (the regime g <= p_B of Eq. 6, thin curves). The
supremum over all ratios is the limit x -> inf at theta = pi/4. At theta = pi/4,
B2-B6 give a rho' independent of g (the denominator is 2 (2 mu + 3) times the
bracket common to the numerators):

    rho' = [diag(mu, mu + 3, mu + 3, mu), coherence 3] / (2 (2 mu + 3)),

while p_suc grows with g/p_B to 2 mu (2 mu + 3) / (9 (mu^2 + 4 mu + 2)) (B7-B11 as
g/p_B -> inf). Hence N = (3 - mu)/(2 (2 mu + 3)) and CHSH = 6 sqrt 2/(2 mu + 3):
rho' is entangled up to mu = 3, p_suc = 6/23 = 0.26087 (paper: ~0.25), and violates
CHSH up to mu = 3 (sqrt 2 - 1)/2, p_suc = (136 - 92 sqrt 2)/49 = 0.12025 (paper: ~0.12).

    python examples/fig2.py      # writes examples/figures/fig2.{png,csv}, ~45 s
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))  # for plotting.py

import numpy as np
from numpy.typing import NDArray
from plotting import FIGURES, legend_of_twins, pyplot, save, write_records
from scipy.optimize import brentq, minimize

from trajectories.paper.qutrit import filtered_state, success_probability

SCALE_P_B = 1e-5
"""Overall rate scale (p_B); rho' and p_suc do not depend on it."""
X_MAX = 1e3
"""Main ratio bound g/p_B <= X_MAX (g <= 1e-2 at p_B = 1e-5)."""
X_MAX_WEAK = 1.0
"""Second ratio bound g <= p_B (the regime of Eq. 6)."""

SQRT2 = math.sqrt(2.0)
MU_ENTANGLED = 3.0
"""mu = p_A/p_B at which rho' stops being entangled (x -> inf, theta = pi/4)."""
P_ENTANGLED = 6.0 / 23.0
"""Supremum of p_suc with N(rho') > 0, reached as g/p_B -> inf, theta = pi/4."""
MU_CHSH = 3.0 * (SQRT2 - 1.0) / 2.0
"""mu at which the CHSH value of rho' reaches 2 (x -> inf, theta = pi/4)."""
P_CHSH = (136.0 - 92.0 * SQRT2) / 49.0
"""Supremum of p_suc with CHSH(rho') > 2, reached as g/p_B -> inf, theta = pi/4."""


def x_state_measures(rho: NDArray[np.complex128]) -> tuple[float, float]:
    """Negativity and maximal CHSH of an X state with only a |0,1><1,0| coherence.

    N = max(0, sqrt(((r00 - r33)/2)^2 + |c|^2) - (r00 + r33)/2); the correlation
    matrix is diag(2 Re c, 2 Re c, T_zz) up to a rotation about z, so
    CHSH = 2 sqrt(4 |c|^2 + max(4 |c|^2, T_zz^2)).
    """
    r = np.real(np.diag(rho))
    c2 = abs(rho[1, 2]) ** 2
    n = math.sqrt(((r[0] - r[3]) / 2) ** 2 + c2) - (r[0] + r[3]) / 2
    tzz = r[0] - r[1] - r[2] + r[3]
    return max(0.0, n), 2 * math.sqrt(4 * c2 + max(4 * c2, tzz**2))


def measures(x: float, mu: float, theta: float) -> tuple[float, float, float]:
    """(p_suc, N, CHSH) of rho' at g/p_B = x, p_A/p_B = mu (Eqs. B2-B11)."""
    g, p_A = x * SCALE_P_B, mu * SCALE_P_B
    rho = filtered_state(g, theta, p_A, SCALE_P_B)
    n, s = x_state_measures(rho)
    return float(success_probability(g, theta, p_A, SCALE_P_B)), n, s


def signed_negativity(x: float, mu: float, theta: float) -> float:
    """sqrt(((r00 - r33)/2)^2 + |c|^2) - (r00 + r33)/2: N when > 0, smooth across 0."""
    rho = filtered_state(x * SCALE_P_B, theta, mu * SCALE_P_B, SCALE_P_B)
    r = np.real(np.diag(rho))
    return math.sqrt(((r[0] - r[3]) / 2) ** 2 + abs(rho[1, 2]) ** 2) - (r[0] + r[3]) / 2


def limit_state(mu: float, theta: float = math.pi / 4) -> NDArray[np.complex128]:
    """rho' in the limit g/p_B -> inf (B2-B6 with g -> inf), package basis."""
    s2, c2 = math.sin(theta) ** 2, math.cos(theta) ** 2
    den = (2 * mu + 3) * (mu * (1 - math.cos(4 * theta)) + 6)
    rho = np.diag(
        [
            2 * mu * s2 * (2 * mu * c2 + 3),
            2 * (mu + 3) * c2 * (2 * mu * s2 + 3),
            2 * (mu + 3) * s2 * (2 * mu * c2 + 3),
            2 * mu * c2 * (2 * mu * s2 + 3),
        ]
    ).astype(complex)
    rho[1, 2] = rho[2, 1] = 3 * (mu + 3) * math.sin(2 * theta)
    return rho / den


def limit_success_probability(mu: float, theta: float = math.pi / 4) -> float:
    """p_suc in the limit g/p_B -> inf (B7-B11 with g -> inf)."""
    k = 1 - math.cos(4 * theta)
    return (
        2
        * mu
        * (2 * mu + 3)
        * (mu * k + 6)
        / (9 * (mu**3 * k + mu**2 * (8 + 3 * k) + mu * (24 + 2 * k) + 12))
    )


def limit_mu(p_suc: float) -> float:
    """The mu with ``limit_success_probability(mu, pi/4) == p_suc`` (p_suc < 4/9)."""
    return brentq(
        lambda m: limit_success_probability(m) - p_suc, 1e-14, 1e8, xtol=1e-15
    )


def limit_curves(p_suc: float) -> tuple[float, float]:
    """Supremal (N, CHSH) at this p_suc: x -> inf, theta = pi/4, closed form."""
    mu = limit_mu(p_suc)
    return max(0.0, (3 - mu) / (2 * (2 * mu + 3))), 6 * SQRT2 / (2 * mu + 3)


def limit_threshold(which: str) -> float:
    """p_suc at which N (``"negativity"``) or CHSH - 2 (``"chsh"``) of the limit
    state x -> inf, theta = pi/4 crosses 0, found numerically in mu (closed forms:
    ``P_ENTANGLED``, ``P_CHSH``)."""

    def f(log_mu: float) -> float:
        mu = math.exp(log_mu)
        rho = limit_state(mu)
        _, s = x_state_measures(rho)
        r = np.real(np.diag(rho))
        signed = math.sqrt(((r[0] - r[3]) / 2) ** 2 + abs(rho[1, 2]) ** 2)
        signed -= (r[0] + r[3]) / 2
        return signed if which == "negativity" else s - 2

    return limit_success_probability(math.exp(brentq(f, -20.0, 15.0, xtol=1e-14)))


def bounded_threshold(which: str, x: float) -> tuple[float, float, float]:
    """sup p_suc with N > 0 (``"negativity"``) or CHSH > 2 (``"chsh"``) at g/p_B = x.

    Maximises p_suc over (log mu, theta) under the constraint (SLSQP, two starts);
    p_suc grows with x along the boundary, so this is the threshold under x <= bound.
    Returns (p_suc, mu, theta).
    """

    def margin(z: NDArray[np.float64]) -> float:
        mu = math.exp(z[0])
        if which == "negativity":
            return signed_negativity(x, mu, z[1])
        return measures(x, mu, z[1])[2] - 2.0

    best = (-math.inf, math.nan, math.nan)
    for z0 in ([0.0, math.pi / 4], [-2.0, 0.6]):
        res = minimize(
            lambda z: -measures(x, math.exp(z[0]), z[1])[0],
            np.array(z0),
            method="SLSQP",
            constraints=[{"type": "ineq", "fun": margin}],
            bounds=[(-20.0, 10.0), (0.01, math.pi / 2 - 0.01)],
            options={"ftol": 1e-14, "maxiter": 500},
        )
        if margin(res.x) > -1e-9 and -res.fun > best[0]:
            best = (-res.fun, math.exp(res.x[0]), res.x[1])
    return best


def optimise(
    p_suc: float, which: int, x_max: float
) -> tuple[float, float, float, float]:
    """Max of N (which=1) or CHSH (which=2) at fixed p_suc over x <= x_max, mu, theta.

    Returns (value, x, mu, theta); NaN if no start reaches the constraint.
    """
    mu0 = limit_mu(min(p_suc, 0.44))

    def constraint(z: NDArray[np.float64]) -> float:
        return math.log(measures(math.exp(z[0]), math.exp(z[1]), z[2])[0] / p_suc)

    def cost(z: NDArray[np.float64]) -> float:
        x, mu = math.exp(z[0]), math.exp(z[1])
        if which == 1:
            return -signed_negativity(x, mu, z[2])
        return -measures(x, mu, z[2])[2]

    best = (-math.inf, math.nan, math.nan, math.nan)
    lx = math.log(x_max)
    for z0 in (
        [lx, math.log(mu0), math.pi / 4],
        [lx - 2, math.log(mu0), 0.6],
        [
            min(lx, 0.0) - 1,
            math.log(mu0),
            math.pi / 4,
        ],
    ):
        res = minimize(
            cost,
            np.array(z0),
            method="SLSQP",
            constraints=[{"type": "eq", "fun": constraint}],
            bounds=[(-9.0, lx), (-30.0, 12.0), (0.01, math.pi / 2 - 0.01)],
            options={"ftol": 1e-13, "maxiter": 500},
        )
        if abs(constraint(res.x)) < 1e-7 and -res.fun > best[0]:
            best = (-res.fun, math.exp(res.x[0]), math.exp(res.x[1]), res.x[2])
    if not math.isfinite(best[0]):
        return (math.nan, math.nan, math.nan, math.nan)
    value = max(0.0, best[0]) if which == 1 else best[0]
    return (value, *best[1:])


def compute(p_grid: NDArray[np.float64]) -> list[dict[str, float]]:
    """One row per p_suc: limit curves and both bounded optimisations."""
    rows = []
    for p in p_grid:
        n_lim, s_lim = limit_curves(p)
        row = {"p_suc": p, "N_sup": n_lim, "CHSH_sup": s_lim}
        for tag, x_max in (("x1e3", X_MAX), ("x1", X_MAX_WEAK)):
            n, xn, mun, thn = optimise(p, 1, x_max)
            s, xs, mus, ths = optimise(p, 2, x_max)
            row |= {
                f"N_{tag}": n,
                f"N_{tag}_g/p_B": xn,
                f"N_{tag}_p_A/p_B": mun,
                f"N_{tag}_theta": thn,
                f"CHSH_{tag}": s,
                f"CHSH_{tag}_g/p_B": xs,
                f"CHSH_{tag}_p_A/p_B": mus,
                f"CHSH_{tag}_theta": ths,
            }
        rows.append(row)
    return rows


def plot(rows: list[dict[str, float]], path: Path) -> None:
    """Negativity (solid, left axis) and CHSH (dashed, right axis) against p_suc."""
    plt = pyplot()
    p = np.array([r["p_suc"] for r in rows])
    col = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    ax2 = ax.twinx()
    ax.plot(p, col["N_sup"], "-", color="C0", lw=2.5, label="N, sup (g/p_B → ∞)")
    ax.plot(p, col["N_x1e3"], "o", color="C0", ms=4, label="N, optimised, g/p_B ≤ 10³")
    ax.plot(
        p,
        col["N_x1"],
        "-",
        color="C0",
        lw=1,
        alpha=0.6,
        label="N, g/p_B ≤ 1 (to its max p_suc)",
    )
    ax2.plot(p, col["CHSH_sup"], "--", color="C3", lw=2.5, label="CHSH, sup")
    ax2.plot(p, col["CHSH_x1e3"], "s", color="C3", ms=4, label="CHSH, optimised, ≤ 10³")
    ax2.plot(
        p, col["CHSH_x1"], "--", color="C3", lw=1, alpha=0.6, label="CHSH, g/p_B ≤ 1"
    )
    ax2.axhline(2.0, color="gray", lw=0.8, ls=":")
    for pt, lab, ha, dx in (
        (P_ENTANGLED, "N = 0 at\n6/23 = 0.2609", "right", -0.003),
        (P_CHSH, "CHSH = 2 at\n0.1203", "left", 0.003),
    ):
        ax.axvline(pt, color="gray", lw=0.8, ls=":")
        ax.text(pt + dx, 0.47, lab, ha=ha, va="top", fontsize=9, color="dimgray")
    ax.set_xlim(0, p.max())
    ax.set_ylim(0, 0.5)
    ax2.set_ylim(1.0, 2 * SQRT2)
    ax.set_xlabel(r"success probability $p_{suc}$", fontsize=13)
    ax.set_ylabel(r"maximal negativity of $\rho'$", fontsize=13, color="C0")
    ax2.set_ylabel(r"maximal CHSH value of $\rho'$", fontsize=13, color="C3")
    ax.tick_params(labelsize=11)
    ax2.tick_params(labelsize=11)
    legend_of_twins(ax, ax2, fontsize=9, loc="center right", bbox_to_anchor=(1.0, 0.6))
    ax.set_title(
        r"Fig. 2: two-qutrit machine, $T_A=\infty$, $T_B=0$ (closed forms B2-B11)",
        fontsize=12,
    )
    fig.tight_layout()
    save(fig, path, dpi=130)


def main() -> None:
    """Compute, print the thresholds, write the CSV and the PNG."""
    t0 = time.perf_counter()
    FIGURES.mkdir(exist_ok=True)
    p_grid = np.concatenate([np.linspace(0.0025, 0.3, 60)])
    rows = compute(p_grid)
    write_records(FIGURES / "fig2.csv", rows, ".10g")
    plot(rows, FIGURES / "fig2.png")
    print("thresholds: sup p_suc with N > 0 and with CHSH > 2 (paper: ~0.25, ~0.12)")
    print(f"  {'bound':>14} {'entangled':>12} {'CHSH > 2':>12}")
    print(
        f"  {'g/p_B -> inf':>14} {limit_threshold('negativity'):12.10f} "
        f"{limit_threshold('chsh'):12.10f}   (mu = 3, mu = 3(sqrt2 - 1)/2)"
    )
    for x in (X_MAX, 10.0, X_MAX_WEAK):
        (pn, mun, _), (ps, mus, _) = (
            bounded_threshold("negativity", x),
            bounded_threshold("chsh", x),
        )
        print(
            f"  {f'g/p_B <= {x:g}':>14} {pn:12.10f} {ps:12.10f}"
            f"   (mu = {mun:.6g}, {mus:.6g})"
        )
    print(
        f"  closed forms: 6/23 = {P_ENTANGLED:.10f}, (136 - 92 sqrt 2)/49 = "
        f"{P_CHSH:.10f}"
    )
    print(
        f"wrote {FIGURES / 'fig2.csv'} and fig2.png in {time.perf_counter() - t0:.1f} s"
    )


if __name__ == "__main__":
    main()
