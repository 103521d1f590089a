"""The jackknife of the sampled steady state (``pipeline.steady_estimates``): the
leave-one-batch-out densities formed as the whole minus each batch equal those
summed afresh from the other batches' rows (``sampled_density``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trajectories.pipeline.steady_estimates import (
    _jackknife_densities,
    sampled_density,
)


def _rows(seed: int, D: int = 4, batches: int = 5) -> pd.DataFrame:
    """Summed element rows of the upper triangle; one element only in batch 2,
    one missing from batch 0."""
    rng = np.random.default_rng(seed)
    out = []
    for b in range(batches):
        for i in range(D):
            for j in range(i, D):
                if ((i, j) == (0, 3) and b != 2) or ((i, j) == (1, 2) and b == 0):
                    continue
                n = int(rng.integers(50, 100))
                re, im = rng.normal(size=2) * n
                out.append(
                    {
                        "batch": b,
                        "quantity": "rho",
                        "i": i,
                        "j": j,
                        "n": n,
                        "re": re,
                        "im": 0.0 if i == j else im,
                    }
                )
        out.append(
            {
                "batch": b,
                "quantity": "p_suc",
                "i": 0,
                "j": 0,
                "n": 100,
                "re": 5.0,
                "im": 0.0,
            }
        )
    return pd.DataFrame(out)


@pytest.mark.parametrize("seed", [0, 1])
def test_leave_one_out_densities_equal_a_fresh_sum(seed: int) -> None:
    rows, D = _rows(seed), 4
    full, loo = _jackknife_densities(rows, D)
    np.testing.assert_allclose(full, sampled_density(rows, D), rtol=0, atol=1e-13)
    batches = sorted(rows["batch"].unique())
    assert len(loo) == len(batches)
    for rho, b in zip(loo, batches, strict=True):
        fresh = sampled_density(rows[rows["batch"] != b], D)
        np.testing.assert_allclose(rho, fresh, rtol=0, atol=1e-13)
    assert loo[2][0, 3] == 0  # the element only batch 2 has is absent without it
