"""The steady state as the run samples it, against the exact one.

From the ``states`` tables of a grid point (``states.py``): the ensemble at the end
of the burn-in and the time average along each trajectory over the window before
the first attempt, element by element (every population and every coherence the
exact steady state has, real and imaginary parts, SE std/sqrt(n) over independent
machines), with z against the exact steady state; the stationary p_suc of both; the
negativity of the sampled state with a delete-one-batch jackknife error (batches
are independent). ``steady_state_max_abs_z`` is the largest |z| over the compared
resolved elements (``element_table``), ``steady_state_n_elements`` their number.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.estimators import (
    ESS_MIN,
    ess_from_sums,
    jackknife_df,
    mean_estimate,
    measure_estimate,
    z_score,
)
from analysis.measures import signed_negativity
from trajectories.system.models import OpenSystem

ESTIMATORS = {"ensemble": "ens", "average": "avg"}
"""The two estimates of the steady state and their key prefixes."""


def _final(states: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Rows of one estimator: the last ensemble sample (the end of the burn-in), or
    the time average."""
    rows = states[states["kind"] == kind]
    return rows[rows["sample"] == rows["sample"].max()]


def element_table(states: pd.DataFrame, rho_ss: NDArray) -> pd.DataFrame:
    """One row per estimator, element and part: value, se, exact, z, ess, resolved.

    An element is resolved when the Kish effective sample size of its populations
    (for a coherence, the smaller of rho_ii's and rho_jj's) reaches ``ESS_MIN``: a
    population carried by a handful of machines has no normal error (one machine
    where 5.7 are expected reads z = -4.7 against the sample SE). Unresolved
    elements keep their value, with no SE and no z."""
    out = []
    for kind in ESTIMATORS:
        rows = _final(states, kind)
        if rows.empty:
            continue
        tot = rows.groupby(["quantity", "i", "j"], sort=False)[
            ["n", "re", "im", "re_sq", "im_sq"]
        ].sum()
        pops = tot.loc["rho"]
        ess = {
            int(i): ess_from_sums(r["re"], r["re_sq"])
            for (i, j), r in pops.iterrows()
            if i == j
        }
        for (i, j), r in pops.iterrows():
            element_ess = min(ess[int(i)], ess[int(j)])
            for part in _parts(rho_ss, i, j):
                out.append(
                    _element_row(kind, int(i), int(j), part, r, element_ess, rho_ss)
                )
    return pd.DataFrame(out)


def _element_row(
    kind: str, i: int, j: int, part: str, r: pd.Series, ess: float, rho_ss: NDArray
) -> dict[str, Any]:
    """The comparison of one part of one element with the exact steady state."""
    est = mean_estimate(r[part], r[f"{part}_sq"], int(r["n"]))
    exact = float(getattr(rho_ss[i, j], "real" if part == "re" else "imag"))
    resolved = ess >= ESS_MIN and est.se > 0
    se = est.se if resolved else math.nan
    return {
        "estimator": kind,
        "i": i,
        "j": j,
        "part": part,
        "value": est.value,
        "se": se,
        "exact": exact,
        "z": z_score(est.value, se, exact),
        "ess": ess,
        "resolved": bool(resolved),
    }


def _parts(rho_ss: NDArray, i: int, j: int) -> tuple[str, ...]:
    """The parts of rho_ij compared: the population, or the real and imaginary parts
    of a coherence that the exact state has (a part that is 0 in the exact state,
    e.g. the real part of an imaginary coherence, carries only rounding)."""
    if i == j:
        return ("re",)
    scale = EXACT_ZERO * math.sqrt(abs(rho_ss[i, i] * rho_ss[j, j]))
    value = rho_ss[i, j]
    return tuple(
        part for part, x in (("re", value.real), ("im", value.imag)) if abs(x) > scale
    )


EXACT_ZERO = 1e-12
"""A part of a coherence below this fraction of sqrt(rho_ii rho_jj) is zero."""


def steady_state_keys(
    states: pd.DataFrame | None, model: OpenSystem, rho_ss: NDArray
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """The summary keys of the sampled steady state and its element table."""
    if states is None or states.empty:
        return {}, None
    elements = element_table(states, rho_ss)
    z = elements["z"].to_numpy(dtype=float)
    compared = np.isfinite(z)
    keys: dict[str, Any] = {
        "steady_state_max_abs_z": float(np.abs(z[compared]).max())
        if compared.any()
        else math.nan,
        "steady_state_n_elements": int(compared.sum()),
    }
    P = model.machine.filter.success_projector()
    p_exact = float(np.trace(P @ rho_ss).real)
    for kind, prefix in ESTIMATORS.items():
        rows = _final(states, kind)
        if rows.empty:
            continue
        p = rows[rows["quantity"] == "p_suc"][["n", "re", "re_sq"]].sum()
        est = mean_estimate(p["re"], p["re_sq"], int(p["n"]))
        keys[f"steady_{prefix}_p_suc"] = est.row(p_exact)
        keys[f"steady_{prefix}_negativity"] = _negativity(rows, model, rho_ss)
    return keys, elements


def sampled_density(rows: pd.DataFrame, D: int) -> NDArray[np.complex128]:
    """The mean density matrix from summed element rows (Hermitian completion)."""
    r = rows[rows["quantity"] == "rho"]
    tot = r.groupby(["i", "j"])[["n", "re", "im"]].sum().reset_index()
    rho = np.zeros((D, D), dtype=complex)
    i, j = tot["i"].to_numpy(), tot["j"].to_numpy()
    val = (tot["re"] + 1j * tot["im"]).to_numpy() / tot["n"].to_numpy()
    rho[i, j] = val
    rho[j, i] = val.conj()
    return rho


def _negativity(rows: pd.DataFrame, model: OpenSystem, rho_ss: NDArray) -> dict:
    """Signed negativity of the sampled steady state, jackknifed over batches."""
    D, dims = model.machine.dim, model.machine.dims
    full, leave_one_out = _jackknife_densities(rows, D)
    value = signed_negativity(full, dims)
    exact = signed_negativity(rho_ss, dims)
    n = int(rows[rows["quantity"] == "p_suc"]["n"].sum())
    G = len(leave_one_out)
    if G < 2:
        est = measure_estimate(value, math.nan, n, 1.0, 0.0)
        return est.row(exact, clip_at_zero=True)
    reps = np.array([signed_negativity(rho, dims) for rho in leave_one_out])
    se = math.sqrt((G - 1) / G * float(np.sum((reps - reps.mean()) ** 2)))
    span = (min(dims) - 1) / 2
    est = measure_estimate(value, se, n, span, jackknife_df(reps))
    return est.row(exact, clip_at_zero=True)


def _jackknife_densities(
    rows: pd.DataFrame, D: int
) -> tuple[NDArray[np.complex128], NDArray[np.complex128]]:
    """``sampled_density`` of all batches, and of all but each batch in turn (G, D,
    D): from one table of sums per batch and element, the whole minus each part."""
    r = rows[rows["quantity"] == "rho"]
    tot = r.groupby(["batch", "i", "j"])[["n", "re", "im"]].sum().reset_index()
    batch = pd.factorize(tot["batch"], sort=True)[0]
    pairs = tot[["i", "j"]].to_numpy()
    pair = np.unique(pairs, axis=0, return_inverse=True)[1].ravel()
    (i, j), P = np.unique(pairs, axis=0).T, pair.max() + 1
    n = np.zeros((batch.max() + 1, P))
    s = np.zeros((batch.max() + 1, P), complex)
    np.add.at(n, (batch, pair), tot["n"].to_numpy(float))
    np.add.at(s, (batch, pair), (tot["re"] + 1j * tot["im"]).to_numpy())
    parts = [(n.sum(0), s.sum(0))] + [
        (n.sum(0) - nb, s.sum(0) - sb) for nb, sb in zip(n, s, strict=True)
    ]
    rhos = np.zeros((len(parts), D, D), complex)
    for k, (nk, sk) in enumerate(parts):
        val = np.divide(sk, nk, out=np.zeros_like(sk), where=nk > 0)
        rhos[k, i, j] = val
        rhos[k, j, i] = val.conj()
    return rhos[0], rhos[1:]
