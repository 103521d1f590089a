"""Engine kernels with injected randomness: jump times, channel choice, propagation.

Measured false-alarm rate: 5.5e-5 per change of random stream (95% upper bound
7.7e-3; 45 seeds, `python examples/seed_scan.py --checks 'unravelling:*' --seeds 45
--first-seed 2000000`; no failure), the sum over its 4
stochastic checks (chi-square tests of channel frequencies, the channels of
expected count < 5 pooled).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import scipy.linalg as la
from calibration import Outcome, pooled_chisquare

from trajectories.engine.jump_times import jump_times
from trajectories.engine.jumps import apply_jumps, channel_weights, choose_channels
from trajectories.engine.segment_integrals import segment_density_integral
from trajectories.engine.unravelling import Unravelling
from trajectories.system.machines import qubit_qubit, qubit_qutrit, qudit, qutrit
from trajectories.system.models import LindbladModel, ResetModel


def _ket(model, a: int, b: int) -> np.ndarray:
    psi = np.zeros((1, model.machine.dim), complex)
    psi[0, model.machine.index(a, b)] = 1.0
    return psi


@pytest.mark.parametrize("r", [0.9, 0.5, 0.1, 1e-3, 1e-100])
def test_decaying_qubit_jumps_at_minus_log_r_over_gamma(r: float) -> None:
    Gamma = 0.37
    model = LindbladModel(qubit_qubit(0.0), 0.0, 0.0, Gamma, 0.0)
    unr = Unravelling.from_model(model)
    s = jump_times(unr, _ket(model, 1, 0), np.array([r]), np.array([1e300]))
    assert s[0] == pytest.approx(-math.log(r) / Gamma, rel=1e-12)


def test_reset_model_jumps_at_minus_log_r_over_total_rate() -> None:
    model = ResetModel(qutrit(g=0.05), p_A=0.02, p_B=0.1)
    unr = Unravelling.from_model(model)
    assert unr.uniform_rate == pytest.approx(0.12, rel=1e-14)
    r = np.array([0.5, 0.01, 0.999])
    psi = np.repeat(_ket(model, 2, 0), 3, axis=0)
    s = jump_times(unr, psi, r, np.full(3, 1e6))
    np.testing.assert_allclose(s, -np.log(r) / 0.12, rtol=1e-14)
    assert np.isinf(jump_times(unr, psi[:1], np.array([0.5]), np.array([1.0]))[0])


def test_coupled_lindblad_jump_time_solves_the_norm_equation() -> None:
    """||exp(-i H_eff s) psi||^2 = r to 1e-12 relative, checked with scipy expm."""
    model = LindbladModel(qutrit(g=0.03, eps=1.5), 1.0, 0.3, 0.01, 0.02, dephasing=5e-3)
    unr = Unravelling.from_model(model)
    G = sum((j.op.conj().T @ j.op).toarray() for j in model.jump_operators())
    H_eff = model.hamiltonian(True) - 0.5j * G
    rng = np.random.default_rng(4)
    psi = rng.normal(size=(20, 9)) + 1j * rng.normal(size=(20, 9))
    psi /= np.linalg.norm(psi, axis=1)[:, None]
    r = rng.random(20)
    s = jump_times(unr, psi, r, np.full(20, 1e7))
    for k in range(20):
        phi = la.expm(-1j * H_eff * s[k]) @ psi[k]
        assert np.vdot(phi, phi).real == pytest.approx(r[k], rel=1e-11)


def test_evolve_matches_the_matrix_exponential() -> None:
    for model in (
        ResetModel(qudit(3, g=0.02), 0.01, 0.03, 2.0, 0.5),
        LindbladModel(qutrit(g=0.03), 1.0, 0.3, 0.01, 0.02, dephasing=5e-3),
    ):
        unr = Unravelling.from_model(model)
        G = sum((j.op.conj().T @ j.op).toarray() for j in model.jump_operators())
        H_eff = model.hamiltonian(True) - 0.5j * G
        D = model.machine.dim
        psi = np.random.default_rng(1).normal(size=(3, D)).astype(complex)
        s = np.array([0.0, 3.0, 40.0])
        out = unr.evolve(psi, s)
        for k in range(3):
            expected = la.expm(-1j * H_eff * s[k]) @ psi[k]
            if unr.uniform_rate is not None:  # the common decay is kept in r instead
                expected *= math.exp(0.5 * unr.uniform_rate * s[k])
            np.testing.assert_allclose(out[k], expected, atol=1e-12)


def test_channel_choice_with_fixed_uniforms() -> None:
    w = np.array([[1.0, 2.0, 3.0]])
    picks = [
        int(choose_channels(w, np.array([u]))[0])
        for u in (0.0, 0.16, 0.17, 0.49, 0.51, 0.999)
    ]
    assert picks == [0, 0, 1, 1, 2, 2]


def check_channel_choice(seed: int = 7) -> Outcome:
    """Frequencies of 200000 chosen channels against ||L_k psi||^2 (chi-square)."""
    model = ResetModel(qutrit(g=0.05), p_A=0.02, p_B=0.1, T_A=2.0, T_B=0.5)
    unr = Unravelling.from_model(model)
    psi = np.full((1, 9), 1 / 3, dtype=complex)
    W = channel_weights(unr, psi)
    n = 200_000
    u = np.random.default_rng(seed).random(n)
    k = choose_channels(np.repeat(W, n, axis=0), u)
    observed = np.bincount(k, minlength=W.shape[1])
    p = pooled_chisquare(observed, W[0] / W.sum() * n)
    return Outcome.of(p=[p], label="channel choice")


def test_channel_choice_follows_the_rates() -> None:
    model = ResetModel(qutrit(g=0.05), p_A=0.02, p_B=0.1, T_A=2.0, T_B=0.5)
    W = channel_weights(Unravelling.from_model(model), np.full((1, 9), 1 / 3) + 0j)
    assert W.sum() == pytest.approx(0.12, rel=1e-14)  # sum K^dag K = (p_A + p_B) 1
    check_channel_choice().check()


def test_apply_jumps_is_the_normalised_kraus_action() -> None:
    model = ResetModel(qutrit(), p_A=0.02, p_B=0.1, T_A=2.0, T_B=0.5)
    unr = Unravelling.from_model(model)
    ops = model.jump_operators()
    psi = np.random.default_rng(2).normal(size=(len(ops), 9)).astype(complex)
    out = apply_jumps(unr, psi, np.arange(len(ops)))
    for k, op in enumerate(ops):
        expected = op.op @ psi[k]
        np.testing.assert_allclose(
            out[k], expected / np.linalg.norm(expected), atol=1e-14
        )


@pytest.mark.parametrize("kind", ["reset", "lindblad"])
def test_segment_integral_matches_quadrature(kind: str) -> None:
    """Closed form (reset) and Gauss-Legendre (Lindblad) against a fine trapezoid."""
    model = (
        ResetModel(qutrit(g=0.05), 0.02, 0.1, 2.0, 0.5)
        if kind == "reset"
        else LindbladModel(qutrit(g=0.05), 1.0, 0.3, 0.01, 0.02, dephasing=5e-3)
    )
    _check_segment_integral(Unravelling.from_model(model), np.array([7.0, 130.0]))


def _check_segment_integral(unr, s: np.ndarray) -> None:
    """segment_density_integral of two random states against a fine trapezoid."""
    psi = np.random.default_rng(3).normal(size=(2, unr.dim)) + 0j
    psi /= np.linalg.norm(psi, axis=1)[:, None]
    got = unr.coords_to_density(segment_density_integral(unr, unr.to_coords(psi), s))
    for k in range(2):
        u = np.linspace(0, s[k], 20001)
        states = unr.evolve(np.repeat(psi[k : k + 1], u.size, axis=0), u)
        states /= np.linalg.norm(states, axis=1)[:, None]
        P = states[:, :, None] * states[:, None, :].conj()
        ref = np.trapezoid(P, u, axis=0)
        np.testing.assert_allclose(got[k], ref, atol=1e-6 * s[k])


# fused kernels of the event loop -------------------------------------------------

FUSED_MODELS = {
    "reset": lambda: ResetModel(qutrit(g=0.05), 0.02, 0.1, 2.0, 0.5),
    "lindblad": lambda: LindbladModel(
        qutrit(g=1.6e-3, eps=3.0), 10.0, 0.2, 1e-4, 5e-3, dephasing=3.5e-5
    ),
    "qubit-qutrit": lambda: LindbladModel(qubit_qutrit(), 1.0, 0.3, 0.01, 0.02),
}


def _two_stage_jumps(name: str, seed: int):
    from trajectories.engine.jumps import jump_states

    unr = Unravelling.from_model(FUSED_MODELS[name]())
    rng = np.random.default_rng(seed)
    psi = rng.normal(size=(1, unr.dim)) + 1j * rng.normal(size=(1, unr.dim))
    psi /= np.linalg.norm(psi)
    n = 200_000
    states = np.repeat(psi, n, axis=0)
    new, k = jump_states(unr, states, rng.random((n, 2)))
    return unr, states, new, k, channel_weights(unr, psi)[0]


def check_two_stage_jump(name: str, seed: int = 11) -> Outcome:
    """jump_states: frequencies of 200000 channels against ||L_k psi||^2
    (chi-square over the channels of nonzero weight, those of expected count < 5
    pooled: a random state gives some channels weights ~1e-7, where a single jump
    made the unpooled p-value 1e-8)."""
    _, _, _, k, W = _two_stage_jumps(name, seed)
    return _two_stage_outcome(name, k, W)


def _two_stage_outcome(name: str, k: np.ndarray, W: np.ndarray) -> Outcome:
    observed = np.bincount(k, minlength=W.size)
    seen = W > 0
    p = pooled_chisquare(observed[seen], W[seen] / W.sum() * k.size)
    flags = [("no jump through a channel of zero weight", observed[~seen].sum() == 0)]
    return Outcome.of(p=[p], flags=flags, label=f"two-stage jump {name}")


STOCHASTIC_CHECKS = {
    "channel-choice": check_channel_choice,
    **{f"two-stage-jump[{n}]": partial(check_two_stage_jump, n) for n in FUSED_MODELS},
}
"""Every stochastic check of this module as a function of the seed."""


@pytest.mark.parametrize("name", sorted(FUSED_MODELS))
def test_two_stage_jump_follows_the_rates_and_is_the_kraus_action(name: str) -> None:
    """jump_states: channel frequencies against ||L_k psi||^2 (chi-square), states
    equal to apply_jumps, and the same states on whole arrays or rows."""
    unr, states, new, k, W = _two_stage_jumps(name, 11)
    _two_stage_outcome(name, k, W).check()
    np.testing.assert_allclose(new[:500], apply_jumps(unr, states[:500], k[:500]))
    np.testing.assert_allclose(np.linalg.norm(new, axis=1), 1.0, rtol=1e-14)


def _random_states(unr: Unravelling, n: int, rng: np.random.Generator) -> np.ndarray:
    """Normalised states: dense, product (post-jump like) and on a few levels."""
    D = unr.dim
    psi = rng.normal(size=(n, D)) + 1j * rng.normal(size=(n, D))
    psi[n // 3 : 2 * n // 3] *= rng.random((n - n // 3 - (n - 2 * n // 3), D)) < 0.3
    psi[2 * n // 3 :, unr.coupled] = 0.0
    psi[np.linalg.norm(psi, axis=1) == 0, unr.uncoupled[0]] = 1.0
    return psi / np.linalg.norm(psi, axis=1)[:, None]


def test_clock_jump_times_solve_the_norm_equation_or_miss_the_horizon() -> None:
    """||exp(-i H_eff s) psi||^2 = exp(-E) to 1e-12 (scipy expm) for the jumps, and
    no jump exactly where the norm at the horizon is above exp(-E)."""

    model = LindbladModel(qutrit(g=0.03, eps=1.5), 1.0, 0.3, 0.01, 0.02, dephasing=5e-3)
    G = sum((j.op.conj().T @ j.op).toarray() for j in model.jump_operators())
    H_eff = model.hamiltonian(True) - 0.5j * G
    _check_clock_jump_times(Unravelling.from_model(model), H_eff, 5, (1.0, 400.0))


def _check_clock_jump_times(unr, H_eff, seed: int, horizons: tuple) -> None:
    """Jump times of 60 random states against scipy expm of H_eff (see above)."""
    from trajectories.engine.jump_times import clock_jump_times

    rng = np.random.default_rng(seed)
    n = 60
    psi = _random_states(unr, n, rng)
    E = rng.standard_exponential(n)
    horizon = rng.uniform(*horizons, n)
    s = clock_jump_times(unr, psi, E, horizon)
    for k in range(n):
        if np.isfinite(s[k]):
            assert 0 <= s[k] < horizon[k]
            phi = la.expm(-1j * H_eff * s[k]) @ psi[k]
            assert np.vdot(phi, phi).real == pytest.approx(math.exp(-E[k]), rel=1e-12)
        else:
            phi = la.expm(-1j * H_eff * horizon[k]) @ psi[k]
            assert np.vdot(phi, phi).real > math.exp(-E[k]) * (1 - 1e-12)
    assert 5 < np.isfinite(s).sum() < n - 5


def test_root_finding_that_used_to_oscillate_converges() -> None:
    """A state whose Newton iterates once cycled between two floats 1e-13 apart."""
    from trajectories.engine.jump_times import _solve_log_norm

    model = LindbladModel(qutrit(g=1.6e-3, eps=3.0), 10.0, 0.2, 1e-4, 5e-3, 3.5e-5)
    unr = Unravelling.from_model(model)
    c = np.zeros((1, 9), complex)
    c[0, 2] = 0.21299206062453266 - 7.39879367663863e-17j
    c[0, 4] = 8.209958083687801e-16 - 2.115855302149445j
    c[0, 6] = 1.3327866818369676 + 9.976010922458646e-16j
    log_r = np.array([-0.009849574193935617])
    s = _solve_log_norm(unr, c, log_r, np.array([2315.974633460686]))
    n, _ = unr.norm_sq_after(c, s)
    assert math.log(n[0]) == pytest.approx(log_r[0], abs=1e-13)


def test_root_finding_on_a_norm_that_bends_twice_converges() -> None:
    """From |2, 0> the norm decays slowly (rate 0.0096), then fast once H_int has
    moved it to |0, 2>, |1, 1>: Newton alone bounced between s ~ 0.14 and s ~ 153.5
    (the root is at 73.3), shrinking the bracket by 1e-3 per step, and gave up after
    200 steps (5 of 45 seeds of a 6000-trajectory run of this model failed so)."""
    from trajectories.engine.jump_times import clock_jump_times

    model = LindbladModel(qutrit(0.02, 0.3, 1.5), 3.0, 0.2, 0.002, 0.02, 0.001)
    unr = Unravelling.from_model(model)
    E = np.array([1.4788969918286143])
    s = clock_jump_times(unr, _ket(model, 2, 0), E, np.array([260.2211235520841]))
    n, _ = unr.norm_sq_after(_ket(model, 2, 0), s)
    assert 0.14 < s[0] < 153.5
    assert math.log(n[0]) == pytest.approx(-E[0], abs=1e-13)


@pytest.mark.parametrize("name", sorted(FUSED_MODELS))
def test_evolve_pass_moves_only_what_changes(name: str) -> None:
    """Rows left frozen by evolve_pass differ from evolve by a scalar factor only,
    moving rows equal evolve."""
    from trajectories.engine.jump_times import clock_pass

    unr = Unravelling.from_model(FUSED_MODELS[name]())
    rng = np.random.default_rng(8)
    psi = _random_states(unr, 90, rng)
    s = rng.uniform(0.0, 300.0, 90)
    _, motion = clock_pass(unr, psi, np.full(90, np.inf), s)
    moved = psi.copy()
    unr.evolve_pass(moved, s, motion)
    exact = unr.evolve(psi, s)
    if motion is None:
        np.testing.assert_allclose(moved, exact, atol=1e-13)
        return
    assert motion.frozen.any()
    assert not motion.frozen.all()
    f = motion.frozen
    np.testing.assert_array_equal(moved[f], psi[f])
    factor = np.exp(-0.5 * motion.rate[f] * s[f])[:, None]
    np.testing.assert_allclose(exact[f], factor * psi[f], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(moved[~f], exact[~f], atol=1e-13)


def test_pure_sample_sums_match_outer_products() -> None:
    from trajectories.engine.chunk_sums import ChunkSums
    from trajectories.engine.schedule import Schedule

    rng = np.random.default_rng(3)
    psi = rng.normal(size=(300, 9)) + 1j * rng.normal(size=(300, 9))
    ops = rng.normal(size=(2, 9, 9)) + 1j * rng.normal(size=(2, 9, 9))
    ops = ops + ops.conj().transpose(0, 2, 1)
    sums = ChunkSums.empty(300, 9, 3, 2, Schedule.build(1.0, [0.5], 0.0, 0))
    sums._add_samples(0, psi, ops)
    rho = psi[:, :, None] * psi[:, None, :].conj()
    np.testing.assert_allclose(sums.rho[0], rho.sum(axis=0), rtol=1e-12)
    sq = rho.real**2 + 1j * rho.imag**2
    np.testing.assert_allclose(sums.rho_sq[0], sq.sum(axis=0), rtol=1e-12)
    v = np.einsum("kji,nij->nk", ops, rho).real
    np.testing.assert_allclose(sums.obs[0], v.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sums.obs_sq[0], (v**2).sum(axis=0), rtol=1e-12)


# exceptional points of H_eff ------------------------------------------------------

GAMMA_A, GAMMA_B = 0.01, 0.05
G_EP = abs(GAMMA_A - GAMMA_B) / 4
"""The exceptional point of the qubit-qubit (and qubit-qutrit) Lindblad machine: the
block [[-i G_1/2, g], [g, -i G_2/2]] of |0,1>, |1,0> has G_1 - G_2 = Gamma_B - Gamma_A
at any temperatures, so its eigenvalues coalesce (and its eigenvectors) at g = G_EP."""


def ep_model(rel: float, T_A: float = 0.0, kind: str = "qubit-qubit") -> LindbladModel:
    """The machine at g = G_EP (1 + rel), T_B = 0, no dephasing."""
    g = G_EP * (1 + rel)
    machine = qubit_qubit(g) if kind == "qubit-qubit" else qubit_qutrit(g, g)
    return LindbladModel(machine, T_A, 0.0, GAMMA_A, GAMMA_B)


def h_eff(model) -> np.ndarray:
    G = sum((j.op.conj().T @ j.op).toarray() for j in model.jump_operators())
    return model.hamiltonian(True) - 0.5j * G


@pytest.mark.parametrize("kind", ["qubit-qubit", "qubit-qutrit"])
@pytest.mark.parametrize("T_A", [0.0, 2.0])
@pytest.mark.parametrize(
    ("rel", "exact"),
    [(0.0, True), (1e-9, True), (1e-6, True), (-1e-6, True), (1e-3, False)],
)
def test_no_jump_evolution_near_an_exceptional_point_is_exact(
    kind: str, T_A: float, rel: float, exact: bool
) -> None:
    """exp(-i H_eff t) psi to 1e-13 relative (scipy expm) for several t: through the
    exact block propagator where the eigenvectors are ill-conditioned, through the
    eigenbasis below COND_EXACT (rel = 1e-3: condition number 45). The old engine
    refused g = G_EP here (condition number > 1e8) and lost 1.5e-13 at rel = 1e-6."""
    model = ep_model(rel, T_A, kind)
    unr = Unravelling.from_model(model)
    assert (unr.exact_block is not None) is exact
    H = h_eff(model)
    rng = np.random.default_rng(3)
    psi = rng.normal(size=(8, unr.dim)) + 1j * rng.normal(size=(8, unr.dim))
    psi /= np.linalg.norm(psi, axis=1)[:, None]
    t = np.array([0.1, 2.0, 20.0, 200.0, 600.0])
    states, times = np.repeat(psi, t.size, axis=0), np.tile(t, psi.shape[0])
    out = unr.evolve(states, times)
    n_sq, _ = unr.norm_sq_after(states, times)
    for k in range(times.size):
        expected = la.expm(-1j * H * times[k]) @ states[k]
        size = np.linalg.norm(expected)
        assert np.linalg.norm(out[k] - expected) <= 1e-13 * size
        assert n_sq[k] == pytest.approx(size**2, rel=1e-13)


@pytest.mark.parametrize("rel", [0.0, 1e-6])
def test_jump_times_at_an_exceptional_point_solve_the_norm_equation(rel: float) -> None:

    model = ep_model(rel, T_A=2.0, kind="qubit-qutrit")
    unr = Unravelling.from_model(model)
    assert unr.exact_block is not None
    _check_clock_jump_times(unr, h_eff(model), 6, (0.2, 30.0))


def test_segment_integral_at_an_exceptional_point_matches_quadrature() -> None:
    model = ep_model(0.0, T_A=2.0, kind="qubit-qutrit")
    unr = Unravelling.from_model(model)
    assert unr.exact_block is not None
    _check_segment_integral(unr, np.array([1.5, 180.0]))


def test_block_propagator_matches_expm_for_any_step() -> None:
    """Steps of all sizes in one call (0, below h, exact multiples of h, long), each
    against scipy expm; decayed states are 0, not NaN."""
    from trajectories.engine.propagation import BlockPropagator

    H = h_eff(ep_model(0.0, T_A=2.0))[1:3, 1:3]
    prop = BlockPropagator(H)
    s = np.array([0.0, 0.3 * prop.h, prop.h, 4 * prop.h, 7.5 * prop.h, 123.4, 1e3])
    psi = np.tile([0.6, 0.8j], (s.size, 1))
    out = prop.apply(psi, s)
    for k in range(s.size):
        expected = la.expm(-1j * H * s[k]) @ psi[k]
        assert np.linalg.norm(out[k] - expected) <= 1e-13 * np.linalg.norm(expected)
    far = prop.apply(psi[:2], np.array([1e20, 1e300]))
    np.testing.assert_array_equal(far, 0.0)


def test_well_conditioned_blocks_keep_the_eigenbasis() -> None:
    from trajectories.pipeline.config import load_config

    models = [make() for make in FUSED_MODELS.values()]
    models.append(load_config("lindblad-fig5b").build_model())
    for model in models:
        assert Unravelling.from_model(model).exact_block is None
