"""The run's own estimate of the steady state: the ``states`` table of a batch.

Every batch records, for the ensemble at each sample time in [0, b] (b the burn-in,
the last sample at b) and for the time average along each trajectory over [b, b + T]
before the first attempt (closed-form integrals between jumps), the sums over its
machines of p_suc and of the real and imaginary parts of the elements rho_ij (i <= j)
that the exact steady state has (every population and every nonzero coherence),
with the sums of their squares: enough for means and standard errors over the whole
run, and for jackknife errors over batches of functions of the state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from trajectories.engine.ensemble import Ensemble


def state_support(rho_ss: NDArray[np.complex128]) -> tuple[NDArray, NDArray]:
    """(i, j), i <= j, of the populations and of the nonzero coherences of rho_ss."""
    i, j = np.triu_indices(rho_ss.shape[0])
    keep = (i == j) | (np.abs(rho_ss[i, j]) > 0)
    return i[keep], j[keep]


def states_table(
    ens: Ensemble, support: tuple[NDArray, NDArray], burn_in: float
) -> pd.DataFrame:
    """Long table: kind, sample, time, n, quantity ("p_suc" or "rho"), i, j and the
    sums re, im, re_sq, im_sq over the batch's machines."""
    s, sched = ens.sums, ens.schedule
    blocks = [
        _block(
            "ensemble",
            k,
            t,
            s.n_samples[k],
            s.obs[k, 0],
            s.obs_sq[k, 0],
            s.rho[k],
            s.rho_sq[k],
            support,
        )
        for k, t in enumerate(sched.sample_times)
    ]
    if sched.n_windows:
        blocks.append(
            _block(
                "average",
                0,
                burn_in,
                s.n_batches[0],
                s.win_obs[0, 0],
                s.win_obs_sq[0, 0],
                s.win_rho[0],
                s.win_rho_sq[0],
                support,
            )
        )
    return pd.concat(blocks, ignore_index=True)


def _block(
    kind: str,
    sample: int,
    time: float,
    n: int,
    p: float,
    p_sq: float,
    rho: NDArray[np.complex128],
    rho_sq: NDArray[np.complex128],
    support: tuple[NDArray, NDArray],
) -> pd.DataFrame:
    """Rows of one sample (or of the time average): p_suc, then the elements."""
    i, j = support
    return pd.DataFrame(
        {
            "kind": kind,
            "sample": sample,
            "time": float(time),
            "n": int(n),
            "quantity": ["p_suc", *["rho"] * i.size],
            "i": np.r_[-1, i],
            "j": np.r_[-1, j],
            "re": np.r_[p, rho[i, j].real],
            "im": np.r_[0.0, rho[i, j].imag],
            "re_sq": np.r_[p_sq, rho_sq[i, j].real],
            "im_sq": np.r_[0.0, rho_sq[i, j].imag],
        }
    )
