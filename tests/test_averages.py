"""Time averages of chosen density elements (``engine.averages.ElementAverage``)
against the straightforward (n, D, D) computation of every element: the same
trajectories (same seed), the same integrals, so the kept elements must agree to
rounding, not within a statistical error."""

from __future__ import annotations

import numpy as np
import pytest

from trajectories import simulate
from trajectories.engine.averages import ElementAverage
from trajectories.engine.unravelling import Unravelling
from trajectories.exact.states import steady_state
from trajectories.pipeline.states import state_support
from trajectories.system.machines import qudit, qutrit
from trajectories.system.models import LindbladModel, ResetModel


def _averages(model, elements, seed: int = 7, n_traj: int = 40):
    """The time-averaged density and its SE, every element and the kept ones."""
    kw = dict(
        n_traj=n_traj,
        t_max=300.0,
        sample_times=[150.0],
        burn_in=20.0,
        n_windows=3,
        chunk_size=16,
        initial="thermal",
    )
    full = simulate(model, rng=np.random.default_rng(seed), **kw)
    kept = simulate(
        model, rng=np.random.default_rng(seed), average_elements=elements, **kw
    )
    return full, kept


def _assert_same_elements(full, kept, elements) -> None:
    i, j = elements
    rho_f, se_f = full.time_average_density()
    rho_k, se_k = kept.time_average_density()
    scale = np.sqrt(np.abs(np.diag(rho_f))[i] * np.abs(np.diag(rho_f))[j])
    for a, b in ((rho_f, rho_k), (se_f, se_k)):
        for x, y in ((a[i, j], b[i, j]), (a[j, i], b[j, i])):
            assert np.all(np.abs(x - y) <= 1e-12 * np.maximum(scale, 1e-300)), np.abs(
                x - y
            ).max()
    outside = np.ones(rho_k.shape, dtype=bool)
    outside[i, j] = outside[j, i] = False
    assert np.isnan(rho_k[outside]).all()
    assert np.isnan(se_k[outside]).all()
    # the trajectories and the other estimates are untouched
    np.testing.assert_array_equal(full.sums.counts, kept.sums.counts)
    np.testing.assert_array_equal(full.sums.rho, kept.sums.rho)
    p_f, p_k = full.time_average("p_suc"), kept.time_average("p_suc")
    assert abs(p_f.value - p_k.value) <= 1e-13 * abs(p_f.value)
    assert abs(p_f.se - p_k.se) <= 1e-10 * p_f.se


def test_support_average_of_a_large_qudit_equals_the_full_one() -> None:
    """The qudit machine at d = 10 (D = 121) on the steady state's support (every
    population and the coherences of the coupled chain), as the run keeps it."""
    model = ResetModel(qudit(d=10, g=0.02), 0.004, 0.02, "inf", 0.0)
    elements = state_support(steady_state(model))
    assert elements[0].size < model.machine.dim**2 / 10
    full, kept = _averages(model, elements, n_traj=24)
    _assert_same_elements(full, kept, elements)


def test_any_elements_of_a_lindblad_model_equal_the_full_ones() -> None:
    """Quadrature path (Lindblad model, non-unitary between jumps), and elements
    that mix coupled and uncoupled levels (not only the steady state's support)."""
    model = LindbladModel(qutrit(g=0.05), 1.0, 0.3, 0.01, 0.02, dephasing=5e-3)
    D = model.machine.dim
    rng = np.random.default_rng(1)
    i, j = np.triu_indices(D)
    pick = rng.random(i.size) < 0.4
    pick[i == j] = True  # p_suc needs the populations
    elements = (i[pick], j[pick])
    unr = Unravelling.from_model(model)
    mixed = np.isin(elements[0], unr.coupled) != np.isin(elements[1], unr.coupled)
    assert mixed.any()
    full, kept = _averages(model, elements, n_traj=30)
    _assert_same_elements(full, kept, elements)


def test_element_average_refuses_what_it_cannot_give() -> None:
    model = ResetModel(qutrit(g=0.01), 0.002, 0.01)
    unr = Unravelling.from_model(model)
    with pytest.raises(ValueError, match="i <= j"):
        ElementAverage.build(unr, np.array([1]), np.array([0]))
    with pytest.raises(ValueError, match="repeats"):
        ElementAverage.build(unr, np.array([0, 0]), np.array([1, 1]))
    op = np.zeros((9, 9))
    op[0, 1] = op[1, 0] = 1.0
    with pytest.raises(ValueError, match="outside average_elements"):
        simulate(
            model,
            n_traj=4,
            rng=np.random.default_rng(0),
            t_max=10.0,
            n_windows=1,
            observables={"x": op},
            average_elements=(np.arange(9), np.arange(9)),
        )
