"""False-alarm rates of the test suite's stochastic checks, measured over fresh seeds.

Every stochastic check of the suite is a function ``check(seed) -> Outcome`` listed in
``STOCHASTIC_CHECKS`` of its test module (``tests/calibration.py``): the tests run it
at one fixed seed, this script at many fresh ones (seeds ``--first-seed`` + 0, 1, ...,
which no test uses). A correct engine should pass every seed; a failure is a false
alarm, and the suite's false-alarm rate per change of random stream is the sum of
the checks' rates (a union bound).

Usage (one process; the expensive checks with fewer seeds)::

    python examples/seed_scan.py --list
    python examples/seed_scan.py --checks 'unravel:*' --seeds 50 --out scan.csv
    python examples/seed_scan.py --from scan.csv other.csv      # table only

``--checks`` takes patterns (``*`` and ``?``; brackets are literal) on the names
``module:check`` (``module`` without its ``test_`` prefix, e.g.
``unravel:stationary[qudit-4]``); ``--out`` appends the per-seed statistics to a CSV
file, so that scans run in pieces are summarised together with ``--from``.

The rates in ``tests/README.md`` and at the top of the test modules come from
seeds 2000000 to 2000044, 45 per check (``--seeds 45 --first-seed 2000000``, run in
pieces of at most 15 seeds and combined with ``--from``): about 11 minutes of one
core, ~15 s per seed for all 63 checks.

Method. A check's rate is far below what its seeds can show directly (a single
normal z fails |z| < 4.5 once in 1.5e5 seeds), so the table gives two rates:

* direct: failures / seeds, with the one-sided 95% Clopper-Pearson upper bound;
* tail: the rate read from the distribution of the check's statistic over the
  seeds. A check with m z values and p-values fails when its Sidak-adjusted
  smallest p-value tail_p = 1 - (1 - min p)^m is below P_MIN = 2 P(Z > 4.5) =
  6.8e-6 (min p: the two-sided p-value of each z, normal or Student t for a
  jackknife SE, and the p-values of the tests against exact laws;
  ``tests/calibration.py``). If every z followed its reference law and every
  p-value were uniform, P(tail_p < q) <= q for every q, whatever the correlations
  between the z values of a check (Sidak's inequality for Gaussian vectors; the
  union bound otherwise), and the rate would be at most P_MIN. Heavier tails (the
  studentized z of a skewed mean, a chi-square with small expected counts) make
  P(tail_p < q) fall more slowly than q. The scan fits the lower tail of tail_p
  below q0 = 0.2 by a power law, P(tail_p < q) = (k/N) (q/q0)^a (an extreme-value
  fit: the exceedances -log(tail_p/q0) of the k seeds below q0 are exponential
  with rate a; maximum likelihood a = k / sum(-log(tail_p/q0))), and extrapolates
  it to the failure level: rate = (k/N) (level/q0)^min(a, 1), level = P_MIN (or,
  for the checks kept at a level per test, ``Outcome.per_test``, the
  Sidak-adjusted level of their m tests: the column ``level``). a = 1 is the
  reference law (the rate is then the level, up to the noise of k/N); a < 1 is a
  heavier tail, whose rate the extrapolation multiplies by (q0/level)^(1-a),
  e.g. 8 for a = 0.8 at P_MIN. The 95% upper bound takes the Clopper-Pearson
  bound of k/N and the lower chi-square bound of a (a/a_hat ~ chi2(2k)/2k). The
  column ``z>3 ratio`` (observed / expected count of single |z| > 3, pooled over
  the seeds) shows how far single z values depart from their reference law there.
* Checks may also bound other statistics (an effective sample size, an
  autocorrelation time, the p-value of a negative control): a normal law fitted
  to the values over the seeds gives the chance of crossing the bound, added to
  the tail rate (``margin`` is the distance of the nearest bound from the mean,
  in standard deviations).

The stated rate of a check is max(direct, tail), its upper bound the tail upper
bound (or the direct one if the check failed at some seed: the direct upper
bound without failures, 3/seeds, is too coarse to add up). The suite's rate is
the sum over the checks (a union bound), and per module the same sums are
printed: they are the rates quoted at the top of each stochastic test module.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
for _path in (str(ROOT), str(TESTS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from calibration import P_MIN, Outcome  # noqa: E402

MODULES = (
    "test_unravel",
    "test_heralding",
    "test_protocol_sampling",
    "test_rare_success",
    "test_cli",
    "test_resolution",
    "test_unravelling",
    "test_waiting_times",
    "test_protocol_exact",
    "test_relaxation",
    "test_coverage",
    "test_qutip_roundtrip",
)
"""Test modules with stochastic checks (each defines ``STOCHASTIC_CHECKS``)."""

FIRST_SEED = 1_000_000
Q0 = 0.2
CONFIDENCE = 0.95


def registry() -> dict[str, object]:
    """All stochastic checks, ``module:check`` -> function of the seed."""
    checks = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for key, fn in module.STOCHASTIC_CHECKS.items():
            checks[f"{name.removeprefix('test_')}:{key}"] = fn
    return checks


def select(names: list[str], patterns: list[str] | None) -> list[str]:
    """Names matching any of the shell patterns (all without patterns)."""
    if not patterns:
        return names
    literal = str.maketrans({"[": "[[]", "]": "[]]"})  # brackets in names
    globs = [p.translate(literal) for p in patterns]
    chosen = [n for n in names if any(fnmatch.fnmatchcase(n, g) for g in globs)]
    if not chosen:
        raise SystemExit(f"no check matches {patterns}; see --list")
    return chosen


def scan(checks: dict, names: list[str], seeds: list[int], out: Path | None):
    """Run every check at every seed (seeds outer, so that runs shared by the
    checks of a module are cached once per seed); one row per check and seed."""
    rows = []
    for seed in seeds:
        for name in names:
            start = time.perf_counter()
            try:
                outcome = checks[name](seed=seed)
                error = ""
            except Exception as exc:  # an error fails the test as well
                outcome = Outcome.of(flags=[("no error", False)])
                error = f"{type(exc).__name__}: {exc}; "
            z = np.abs(outcome.z)
            normal = np.isinf(outcome.dof)
            ref = np.where(
                normal,
                2 * stats.norm.sf(3.0),
                2 * stats.t.sf(3.0, np.where(normal, 1, outcome.dof)),
            )
            row = {
                "check": name,
                "seed": seed,
                "passed": outcome.passed,
                "n_tests": outcome.n_tests,
                "max_abs_z": outcome.max_abs_z,
                "min_p": outcome.min_p,
                "tail_p": outcome.tail_p,
                "level": outcome.level,
                "n_z": int(z.size),
                "n_z_gt3": int(np.sum(z > 3)),
                "exp_z_gt3": float(ref.sum()),
                "bounds": json.dumps(
                    {b.name: [b.value, b.low, b.high] for b in outcome.bounds}
                ),
                "failures": error + "; ".join(outcome.failures()),
                "seconds": time.perf_counter() - start,
            }
            rows.append(row)
            if out is not None:
                pd.DataFrame([row]).to_csv(
                    out, mode="a", header=not out.exists(), index=False
                )
            status = "ok" if row["passed"] else "FAIL " + row["failures"]
            print(
                f"{name:44s} seed {seed}: max|z| {row['max_abs_z']:5.2f} "
                f"tail_p {row['tail_p']:.3g} ({row['seconds']:.1f} s) {status}",
                file=sys.stderr,
                flush=True,
            )
    return pd.DataFrame(rows)


def upper(k: int, n: int) -> float:
    """One-sided 95% Clopper-Pearson upper bound of a binomial proportion."""
    return 1.0 if k >= n else float(stats.beta.ppf(CONFIDENCE, k + 1, n - k))


def bound_rate(values: list[list[float]]) -> tuple[float, float, float]:
    """Chance of crossing a bound from a normal fit of the values over the seeds:
    (estimate, 95% upper estimate, margin in standard deviations)."""
    v = np.array([x[0] for x in values], dtype=float)
    v = np.clip(v, -350.0, None)  # log10 of a p-value that underflowed to 0
    low, high = values[0][1], values[0][2]
    mean, sd = float(np.mean(v)), float(np.std(v, ddof=1))
    n = v.size
    if not sd > 0:
        return 0.0, 0.0, math.inf
    # the mean is known to ~sd/sqrt(n), sd to a chi-square factor
    sd_up = sd * math.sqrt((n - 1) / stats.chi2.ppf(1 - CONFIDENCE, n - 1))
    shift = stats.norm.ppf(CONFIDENCE) * sd / math.sqrt(n)

    def tails(m: float, s: float) -> float:
        return float(stats.norm.sf((high - m) / s) + stats.norm.cdf((low - m) / s))

    margin = min((high - mean) / sd, (mean - low) / sd)
    worst = max(tails(mean + shift, sd_up), tails(mean - shift, sd_up))
    return tails(mean, sd), worst, margin


def tail_fit(
    tail_p: np.ndarray, level: float = P_MIN
) -> tuple[int, float, float, float]:
    """Power-law fit of the seeds' tail_p below Q0, extrapolated to the check's
    level: (k, a, rate, 95% upper rate)."""
    n = tail_p.size
    below = tail_p[tail_p < Q0]
    k = int(below.size)
    if k == 0:
        return 0, math.nan, 0.0, upper(0, n) * level / Q0
    a = k / float(np.sum(np.log(Q0 / np.maximum(below, 1e-300))))
    a_low = a * stats.chi2.ppf(1 - CONFIDENCE, 2 * k) / (2 * k)
    rate = k / n * (level / Q0) ** min(a, 1.0)
    rate_up = upper(k, n) * (level / Q0) ** min(a_low, 1.0)
    return k, a, rate, rate_up


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per check: seeds, failures, direct and tail rates."""
    lines = []
    for name, g in rows.groupby("check", sort=False):
        n = len(g)
        fails = int((~g["passed"].astype(bool)).sum())
        tests = int(g["n_tests"].median())
        level = float(g["level"].median())
        if tests:
            k, a, rate, rate_up = tail_fit(g["tail_p"].to_numpy(dtype=float), level)
        else:
            k, a, rate, rate_up = 0, math.nan, 0.0, 0.0
        expected = float(g["exp_z_gt3"].sum())
        ratio = g["n_z_gt3"].sum() / expected if expected else math.nan
        b_rate = b_up = 0.0
        margin = math.inf
        bounds = [json.loads(b) for b in g["bounds"]]
        keys = dict.fromkeys(k for b in bounds for k in b)  # none after an error
        for key in keys:
            r, r_up, m = bound_rate([b[key] for b in bounds if key in b])
            b_rate, b_up, margin = b_rate + r, b_up + r_up, min(margin, m)
        tail, tail_up = rate + b_rate, rate_up + b_up
        lines.append(
            {
                "check": name,
                "seeds": n,
                "fail": fails,
                "direct": fails / n,
                "direct_up": upper(fails, n),
                "m": tests,
                "level": level,
                "f05": float(np.mean(g["tail_p"] < 0.05)),
                "k": k,
                "a": a,
                "z>3 ratio": ratio,
                "margin": margin,
                "tail": tail,
                "tail_up": tail_up,
                "rate": max(fails / n, tail),
                "rate_up": max(upper(fails, n), tail_up) if fails else tail_up,
                "max|z|": float(g["max_abs_z"].max()),
                "s/seed": float(g["seconds"].mean()),
            }
        )
    return pd.DataFrame(lines)


def report(table: pd.DataFrame) -> str:
    """The table, the sums per module and the suite total."""
    fmt = {
        "direct": "{:.3g}".format,
        "direct_up": "{:.2g}".format,
        "level": "{:.2g}".format,
        "f05": "{:.3f}".format,
        "a": "{:.2f}".format,
        "z>3 ratio": "{:.2f}".format,
        "margin": "{:.1f}".format,
        "tail": "{:.2g}".format,
        "tail_up": "{:.2g}".format,
        "rate": "{:.2g}".format,
        "rate_up": "{:.2g}".format,
        "max|z|": "{:.2f}".format,
        "s/seed": "{:.2f}".format,
    }
    out = [table.to_string(index=False, formatters=fmt), ""]
    module = table["check"].str.split(":").str[0]
    for name, g in table.groupby(module, sort=False):
        out.append(
            f"{name:22s} {len(g):3d} checks, {int(g['seeds'].min())}-"
            f"{int(g['seeds'].max())} seeds, {int(g['fail'].sum())} failures: "
            f"rate {g['rate'].sum():.2g} (95% upper {g['rate_up'].sum():.2g})"
        )
    out.append(
        f"suite: {len(table)} checks, {int(table['seeds'].sum())} check-seeds, "
        f"{int(table['fail'].sum())} failures: false-alarm rate "
        f"{table['rate'].sum():.2g} per change of random stream "
        f"(95% upper {table['rate_up'].sum():.2g})"
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", nargs="+", help="shell patterns on module:check")
    parser.add_argument("--seeds", type=int, default=50, help="seeds per check")
    parser.add_argument("--first-seed", type=int, default=FIRST_SEED)
    parser.add_argument("--out", type=Path, help="append per-seed rows to this CSV")
    parser.add_argument("--from", dest="inputs", type=Path, nargs="+", default=[])
    parser.add_argument("--list", action="store_true", help="list the checks")
    args = parser.parse_args(argv)
    if args.inputs:
        rows = pd.concat([pd.read_csv(p) for p in args.inputs], ignore_index=True)
        rows = rows.drop_duplicates(["check", "seed"], keep="last")
        if args.checks:
            keep = select(list(rows["check"].unique()), args.checks)
            rows = rows[rows["check"].isin(keep)]
    else:
        checks = registry()
        if args.list:
            print("\n".join(checks))
            return 0
        names = select(list(checks), args.checks)
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        rows = scan(checks, names, seeds, args.out)
    print(report(summarise(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
