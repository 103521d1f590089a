"""The compiled kernel (``engine.kernel``) against the numpy engine, piece by piece.

Each compiled piece is called on the same inputs as its numpy reference and must
agree to rounding: free evolution (``Unravelling.evolve``), jump times
(``jump_times.clock_jump_times``), the jump and its channel (``jumps.jump_states``,
same uniforms), and the time-average integrals (``segment_density_integral``, the
reset model's closed form and the quadrature). Whole runs of the two kernels differ
only in the order in which they draw random numbers; their agreement in law is
checked against exact values in ``test_kernel_law.py`` and by the stochastic suite.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from trajectories import simulate
from trajectories.engine import kernel as K
from trajectories.engine.jump_times import clock_jump_times
from trajectories.engine.jumps import jump_states
from trajectories.engine.kernel_tables import (
    all_pairs,
    kernel_tables,
    pair_tables,
    supports,
    workspace,
)
from trajectories.engine.segment_integrals import segment_density_integral
from trajectories.engine.unravelling import Unravelling
from trajectories.pipeline.config import load_config
from trajectories.system.machines import qubit_qutrit, qudit, qutrit
from trajectories.system.models import LindbladModel, ResetModel

MODELS = {
    "reset-qutrit": lambda: ResetModel(qutrit(g=0.01), 0.002, 0.01),
    "reset-qudit-4": lambda: ResetModel(qudit(4, g=0.01), 0.002, 0.01),
    "lindblad-fig5b": lambda: load_config("lindblad-fig5b").build_model(),
    "lindblad-qutrit": lambda: LindbladModel(qutrit(g=0.05), 0.01, 0.02, 3.0, 0.5),
}
PICTURES = [(name, ip) for name in MODELS for ip in (True, False)]


def _setup(name: str, interaction_picture: bool, propagator: str = "eigen"):
    unr = Unravelling.from_model(MODELS[name](), interaction_picture, propagator)
    assert supports(unr)
    tab = kernel_tables(unr)
    return unr, tab, workspace(tab, unr.dim)


def exceptional_point_model() -> LindbladModel:
    """Both 2 x 2 blocks of H_eff defective (``test_unravel``)."""
    g = abs(0.01 - 0.05) / 4
    model = LindbladModel(qubit_qutrit(g, g), 2.0, 0.0, 0.01, 0.05)
    assert not supports(Unravelling.from_model(model))
    return model


def _states(D: int, n: int, seed: int) -> np.ndarray:
    """Random normalised states, some with zeros (as after a jump)."""
    rng = np.random.default_rng(seed)
    psi = rng.normal(size=(n, D)) + 1j * rng.normal(size=(n, D))
    psi[::3, : D // 2] = 0
    return psi / np.linalg.norm(psi, axis=1)[:, None]


@pytest.mark.parametrize("propagator", ["eigen", "taylor"])
@pytest.mark.parametrize(("name", "ip"), PICTURES)
def test_free_evolution_equals_numpy(name: str, ip: bool, propagator: str) -> None:
    unr, tab, ws = _setup(name, ip, propagator)
    psi = _states(unr.dim, 12, 1)
    s = np.geomspace(1e-3, 2e3, 12)
    ref = unr.evolve(psi, s)
    for i in range(psi.shape[0]):
        x = psi[i].copy()
        K._coordinates(x, tab, ws[0])
        K._evolve(x, s[i], tab, ws[0], ws)
        np.testing.assert_allclose(x, ref[i], rtol=0, atol=1e-12)


@pytest.mark.parametrize(("name", "ip"), [p for p in PICTURES if "lindblad" in p[0]])
def test_jump_times_equal_numpy(name: str, ip: bool) -> None:
    unr, tab, ws = _setup(name, ip)
    psi = _states(unr.dim, 40, 2)
    rng = np.random.default_rng(3)
    E = rng.standard_exponential(psi.shape[0])
    horizon = np.full(psi.shape[0], 300.0)
    ref = clock_jump_times(unr, psi, E, horizon)
    assert np.isfinite(ref).sum() > 10
    assert np.isinf(ref).sum() > 0
    for i in range(psi.shape[0]):
        K._coordinates(psi[i], tab, ws[0])
        s, _ = K._next_jump(psi[i], E[i], 300.0, tab, ws, 1e-13)
        if np.isinf(ref[i]):
            assert np.isinf(s)
        else:
            assert abs(s - ref[i]) <= 1e-9 * ref[i], (s, ref[i])


@pytest.mark.parametrize("name", list(MODELS))
def test_jump_equals_numpy_with_the_same_uniforms(name: str) -> None:
    unr, tab, ws = _setup(name, True)
    psi = _states(unr.dim, 200, 4)
    u = np.random.default_rng(5).random((psi.shape[0], 2))
    ref, k_ref = jump_states(unr, psi, u)
    for i in range(psi.shape[0]):
        x = psi[i].copy()
        k = K._jump(x, u[i, 0], u[i, 1], tab, ws[3], ws[4])
        assert k == k_ref[i]
        np.testing.assert_allclose(x, ref[i], rtol=0, atol=1e-14)


@pytest.mark.parametrize(("name", "ip"), PICTURES)
def test_segment_integrals_equal_numpy(name: str, ip: bool) -> None:
    unr, tab, ws = _setup(name, ip)
    pairs = all_pairs(unr)
    pt = pair_tables(pairs)
    psi = _states(unr.dim, 6, 6)
    s = np.array([0.0, 1e-6, 0.3, 7.0, 90.0, 800.0])
    c = unr.to_coords(psi)
    ref = segment_density_integral(unr, c, s, pairs)
    for i in range(psi.shape[0]):
        acc = np.zeros(pt.left.size, complex)
        x = psi[i].copy()
        K._coordinates(x, tab, ws[0])
        K._segment(x, s[i], tab, pt, ws, True, acc)
        scale = max(s[i], 1.0)  # the closed form cancels to ~eps / omega
        np.testing.assert_allclose(acc, ref[i], rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize("s", [1e-300, 1e-12, 1e-6, 1e-2])
def test_short_segment_integrals_are_exact(s: float) -> None:
    """A segment so short that the phases omega s round to (nearly) 1: the closed
    form (P(s) - P(0)) i / omega would cancel to nothing; both kernels give
    P(0) s (1 - e^{-i omega s}) / (i omega s) to rounding (the wrong time averages
    of an attempt period of 1e-300)."""
    unr, tab, ws = _setup("reset-qudit-4", True)
    pairs = all_pairs(unr)
    psi = _states(unr.dim, 1, 7)
    c = unr.to_coords(psi)[0]
    omega = pairs.omega
    P0 = c[pairs.left] * c[pairs.right].conj()
    x = omega * s
    with mpmath.workdps(30):  # (1 - e^{-ix}) / (ix), 1 at x = 0
        mean = np.array(
            [complex((1 - mpmath.exp(-1j * v)) / (1j * v)) if v else 1 for v in x]
        )
    exact = P0 * s * mean
    scale = np.abs(P0).max() * s
    numpy_form = segment_density_integral(unr, c[None, :], np.array([s]), pairs)[0]
    np.testing.assert_allclose(numpy_form, exact, rtol=0, atol=1e-12 * scale)
    acc = np.zeros(pairs.left.size, complex)
    x_ = psi[0].copy()
    K._coordinates(x_, tab, ws[0])
    K._segment(x_, s, tab, pair_tables(pairs), ws, True, acc)
    np.testing.assert_allclose(acc, exact, rtol=0, atol=1e-12 * scale)


def test_kernel_choice_is_checked_before_any_work() -> None:
    model = MODELS["reset-qutrit"]()
    run = dict(n_traj=10, rng=np.random.default_rng(1), t_max=10.0)
    with pytest.raises(ValueError, match="kernel='fast' must be one of"):
        simulate(model, kernel="fast", **run)
    with pytest.raises(ValueError, match="no jump record"):
        simulate(model, kernel="compiled", record_jumps=True, **run)
    at_ep = exceptional_point_model()
    with pytest.raises(ValueError, match="exceptional point"):
        simulate(at_ep, kernel="compiled", **run)


def test_auto_uses_the_compiled_kernel_where_it_applies() -> None:
    """``auto`` and ``compiled`` give the same records; the jump record and a
    block at an exceptional point fall back to the numpy passes (same records as
    ``numpy``)."""
    model = MODELS["reset-qutrit"]()
    run = dict(n_traj=50, t_max=500.0, sample_times=[500.0])

    def counts(**kw):
        ens = simulate(model, rng=np.random.default_rng(9), **run, **kw)
        return ens.sums.counts

    np.testing.assert_array_equal(counts(), counts(kernel="compiled"))
    assert not np.array_equal(counts(kernel="compiled"), counts(kernel="numpy"))
    np.testing.assert_array_equal(
        counts(record_jumps=True), counts(record_jumps=True, kernel="numpy")
    )
    model = exceptional_point_model()
    np.testing.assert_array_equal(counts(), counts(kernel="numpy"))
