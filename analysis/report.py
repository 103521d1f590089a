"""Tables and Markdown of a heralding run: pure functions of arrays and DataFrames.

The table builders (``waiting_time_table``, ``bank_success_table``,
``validation_table``) return the numbers a figure of ``analysis.figures`` is drawn
from, so they can be tested without looking at pixels; the Markdown helpers format
them for report.md.

Units: energies and rates in units of the first gap of system A, times in units of
its inverse (hbar = k_B = 1), as in the paper.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from analysis.waiting_times import any_success_probability

Z_PASS = 4.5
"""A validation row passes when |z| < Z_PASS."""

TIME_UNIT = "1/first gap of A"
"""Unit of times (hbar = 1, energies in units of the first gap of system A)."""

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
    n, freq, se = _binned(k, A)
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


def _binned(
    k: ArrayLike, A: int
) -> tuple[int, NDArray[np.float64], NDArray[np.float64]]:
    """Sample size, frequencies and binomial SEs of K = 1..A and of K > A (last bin)."""
    a = np.asarray(k)
    n = int(a.size)
    counts = np.bincount(np.clip(a, 1, A + 1), minlength=A + 2)[1:]
    freq = counts / max(n, 1)
    se = np.sqrt(freq * (1 - freq) / max(n, 1))
    return n, freq, se


def bank_sizes(
    n_machines: int, n_banks_min: int = 20, configured: int = 1
) -> list[int]:
    """Bank sizes 1, 2, 4, ... (and ``configured``) leaving >= n_banks_min banks."""
    top = max(1, n_machines // n_banks_min)
    sizes = {2**j for j in range(int(math.log2(top)) + 1)}
    if configured <= top:
        sizes.add(int(configured))
    return sorted(sizes)


BANK_OUTCOMES_MIN = 10
"""A bank size is resolved when at least this many banks of the sample succeed and
at least this many fail in the first round: beyond that (e.g. all 39 banks of 1024
machines succeed) the sample cannot tell P from 1 (or 0) and its binomial SE, z and
error bar say nothing; the bank figure and table show resolved sizes only."""


def bank_success_table(
    first_success: ArrayLike, p: float, sizes: Sequence[int]
) -> pd.DataFrame:
    """P(at least one of n machines succeeds in a round) against n.

    Consecutive machines form banks of n (independent machines, so any grouping
    works); the sampled fraction of banks with a first-round success is compared with
    1 - (1 - p)^n. A size is ``resolved`` when both outcomes occur in at least
    ``BANK_OUTCOMES_MIN`` banks (a limit taken from the sample, not the exact law).

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
        ``n``, ``banks``, ``successes`` (banks with a success), ``sampled``,
        ``sampled_se`` (binomial with the exact probability), ``exact`` =
        1 - (1 - p)^n, ``z``, ``resolved``.
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
        hits = int(hit.sum())
        rows.append(
            {
                "n": int(n),
                "banks": int(m),
                "successes": hits,
                "sampled": value,
                "sampled_se": se,
                "exact": exact,
                "z": (value - exact) / se if se > 0 else 0.0,
                "resolved": min(hits, m - hits) >= BANK_OUTCOMES_MIN,
            }
        )
    return pd.DataFrame(rows)


def unresolved_banks_note(table: pd.DataFrame) -> str:
    """One sentence on the bank sizes left out as not resolved ("" if none).

    Examples
    --------
    >>> t = pd.DataFrame({"n": [1, 64, 128], "banks": [8000, 125, 62],
    ...                   "successes": [390, 120, 62],
    ...                   "resolved": [True, False, False]})
    >>> print(unresolved_banks_note(t))  # doctest: +NORMALIZE_WHITESPACE
    n = 64, 128 left out: fewer than 10 banks of one outcome (at n = 64,
    120 of 125 banks succeed).
    """
    out = table[~table["resolved"].astype(bool)]
    if out.empty:
        return ""
    first = out.iloc[0]
    sizes = ", ".join(str(int(n)) for n in out["n"])
    return (
        f"n = {sizes} left out: fewer than {BANK_OUTCOMES_MIN} banks of one outcome "
        f"(at n = {int(first['n'])}, {int(first['successes'])} of "
        f"{int(first['banks'])} banks succeed)."
    )


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
        if not r.get("resolved", True):
            lines.append(
                f"| {_cell(r['quantity'])} | {_g(r['estimate'])} | – "
                f"| {_g(r['exact'])} | – | not resolved |"
            )
            continue
        verdict = "pass" if r["pass"] else "FAIL"
        lines.append(
            f"| {_cell(r['quantity'])} | {_g(r['estimate'])} | {_g(r['se'], 2)} "
            f"| {_g(r['exact'])} | {format_z(r['z'])} | {verdict} |"
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
