"""Exact references: Liouvillian, steady state, evolution and the filter."""

from __future__ import annotations

import math

import numpy as np
import pytest
import qutip

from trajectories.exact.states import (
    NonUniqueSteadyStateError,
    evolve,
    filter_superoperators,
    herald,
    steady_state,
)
from trajectories.system.liouvillian import diagonal_indices, reachable_support
from trajectories.system.machines import one_step, qubit_qutrit, qudit, qutrit, schmidt
from trajectories.system.models import LindbladModel, ResetModel

MODELS = {
    "reset-gradient": lambda: ResetModel(qutrit(g=0.01, theta=0.3), 0.002, 0.01),
    "reset-finite": lambda: ResetModel(qutrit(g=0.02, eps=0.5), 0.003, 0.01, 1.3, 0.2),
    "reset-g3": lambda: ResetModel(qutrit(g=0.01, g3=0.004), 0.002, 0.01, 5.0, 0.1),
    "reset-qudit4": lambda: ResetModel(qudit(4, g=0.01), 0.001, 0.01, 2.0, 0.3),
    "reset-inverted": lambda: ResetModel(
        qubit_qutrit(0.01, 0.02, "lower"), 0.01, 0.002, "-0", 0.0
    ),
    "lindblad": lambda: LindbladModel(qutrit(g=1.6e-3, eps=3.0), 3.0, 0.2, 1e-4, 5e-3),
    "lindblad-dephasing": lambda: LindbladModel(
        qutrit(g=1.6e-3, eps=3.0), 3.0, 0.2, 1e-4, 5e-3, dephasing=5e-4
    ),
}


def _apply_eq4(model: ResetModel, rho: np.ndarray, ip: bool) -> np.ndarray:
    """Right-hand side of Eq. 4 written out with partial traces."""
    d_A, d_B = model.machine.dims
    H = model.hamiltonian(ip)
    r = rho.reshape(d_A, d_B, d_A, d_B)
    tr_A = np.einsum("abac->bc", r)
    tr_B = np.einsum("abcb->ac", r)
    return (
        1j * (rho @ H - H @ rho)
        + model.p_A * (np.kron(np.diag(model.tau_A), tr_A) - rho)
        + model.p_B * (np.kron(tr_B, np.diag(model.tau_B)) - rho)
    )


@pytest.mark.parametrize("ip", [True, False])
def test_reset_liouvillian_is_eq4(ip: bool) -> None:
    model = MODELS["reset-finite"]()
    D = model.machine.dim
    rng = np.random.default_rng(1)
    X = rng.normal(size=(D, D)) + 1j * rng.normal(size=(D, D))
    L = model.liouvillian(ip)
    got = (L @ X.reshape(-1, order="F")).reshape(D, D, order="F")
    np.testing.assert_allclose(got, _apply_eq4(model, X, ip), atol=1e-14)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("ip", [True, False])
def test_liouvillian_matches_qutip(name: str, ip: bool) -> None:
    model = MODELS[name]()
    H, c_ops = model.to_qutip(ip)
    expected = qutip.liouvillian(H, c_ops).full()
    np.testing.assert_allclose(model.liouvillian(ip).toarray(), expected, atol=1e-15)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_liouvillian_is_trace_preserving(name: str) -> None:
    model = MODELS[name]()
    D = model.machine.dim
    trace_row = np.zeros(D * D)
    trace_row[diagonal_indices(D)] = 1.0
    np.testing.assert_allclose(
        trace_row @ model.liouvillian(False).toarray(), 0, atol=1e-15
    )


@pytest.mark.parametrize("name", sorted(MODELS))
def test_steady_state_agrees_with_references(name: str) -> None:
    model = MODELS[name]()
    rho = steady_state(model)
    assert np.allclose(rho, rho.conj().T, atol=1e-15)
    assert np.trace(rho).real == pytest.approx(1.0, abs=1e-14)
    assert np.linalg.eigvalsh(rho).min() > -1e-14
    for method in ("dense", "qutip"):
        np.testing.assert_allclose(steady_state(model, method=method), rho, atol=1e-12)
    D = model.machine.dim
    residual = model.liouvillian(False) @ rho.reshape(-1, order="F")
    assert np.abs(residual).max() < 1e-15 * D


@pytest.mark.parametrize("name", sorted(MODELS))
def test_dropping_free_hamiltonian_changes_no_steady_state(name: str) -> None:
    model = MODELS[name]()
    np.testing.assert_allclose(
        steady_state(model, interaction_picture=True),
        steady_state(model, interaction_picture=False),
        atol=1e-13,
    )


def test_steady_state_has_coherences_only_inside_degenerate_subspaces() -> None:
    model = MODELS["reset-finite"]()
    rho = steady_state(model)
    E = np.diag(model.machine.free_hamiltonian()).real
    offresonant = ~np.isclose(E[:, None], E[None, :], atol=1e-12)
    assert np.abs(rho[offresonant]).max() == 0.0
    # App. B: the qutrit machine has exactly three nonzero coherences (and conjugates)
    off = np.abs(rho - np.diag(np.diag(rho))) > 0
    assert off.sum() == 6


def test_reduced_space_sizes() -> None:
    # qutrit: 9 populations + 6 coherences among |0,2>, |1,1>, |2,0>
    L = MODELS["reset-gradient"]().liouvillian()
    assert reachable_support(L, diagonal_indices(9)).size == 15
    # one-step machine at d = 20: 400 populations + 20 * 19 chain coherences
    L = ResetModel(one_step(20, g=1e-3, g1=5e-3), 1e-3, 1e-2).liouvillian()
    assert reachable_support(L, diagonal_indices(400)).size == 400 + 20 * 19


def test_non_unique_steady_state_is_reported() -> None:
    model = ResetModel(qutrit(g=0.01), p_A=0.0, p_B=0.0)
    with pytest.raises(NonUniqueSteadyStateError, match="not unique"):
        steady_state(model)
    with pytest.raises(NonUniqueSteadyStateError, match="kernel has dimension"):
        steady_state(model, method="dense")


def test_no_coupling_gives_product_of_thermal_states() -> None:
    model = ResetModel(qutrit(g=0.0), p_A=0.3, p_B=0.1, T_A=1.7, T_B=0.4)
    expected = np.kron(np.diag(model.tau_A), np.diag(model.tau_B))
    np.testing.assert_allclose(steady_state(model), expected, atol=1e-15)


def test_lindblad_without_interaction_is_thermal() -> None:
    """Detailed balance (Eq. F5): each qutrit thermalises to its own bath."""
    from trajectories.system.baths import thermal_state

    m = qutrit(g=0.0, eps=3.0)
    model = LindbladModel(m, 2.0, 0.5, 1e-4, 5e-3, dephasing=1e-4)
    expected = np.kron(
        thermal_state(m.energies_A, 2.0), thermal_state(m.energies_B, 0.5)
    )
    np.testing.assert_allclose(steady_state(model), expected, atol=1e-13)


def test_evolution_matches_qutip_and_relaxes() -> None:
    model = MODELS["reset-finite"]()
    D = model.machine.dim
    rho0 = np.zeros((D, D), complex)
    rho0[model.machine.index(2, 0), model.machine.index(2, 0)] = 1.0
    times = [0.0, 10.0, 50.0, 200.0]
    ours = evolve(model, rho0, times)
    H, c_ops = model.to_qutip(True)
    ref = qutip.mesolve(
        H,
        qutip.Qobj(rho0, dims=[[3, 3], [3, 3]]),
        times,
        c_ops,
        options={"atol": 1e-12, "rtol": 1e-10},
    ).states
    for ours_t, ref_t in zip(ours, ref, strict=True):
        np.testing.assert_allclose(ours_t, ref_t.full(), atol=1e-8)
    late = evolve(model, rho0, [5e4])[0]
    np.testing.assert_allclose(late, steady_state(model), atol=1e-10)


def test_evolve_rejects_bad_times() -> None:
    model = MODELS["reset-gradient"]()
    rho0 = np.eye(9) / 9
    with pytest.raises(ValueError, match="times"):
        evolve(model, rho0, [1.0, 0.5])
    with pytest.raises(ValueError, match="times"):
        evolve(model, rho0, [-1.0])
    with pytest.raises(ValueError, match="rho0"):
        evolve(model, np.eye(4), [1.0])


def test_herald_probabilities_and_post_selected_state() -> None:
    machine = qutrit(g=0.01, theta=0.3)
    rho = steady_state(ResetModel(machine, 0.002, 0.01))
    h = herald(rho, machine.filter)
    assert sum(h.probabilities.values()) == pytest.approx(1.0, abs=1e-14)
    assert all(0 <= p <= 1 for p in h.probabilities.values())
    # success probability: populations of A in {0,1} and B in {1,2}
    idx = [machine.index(a, b) for a in (0, 1) for b in (1, 2)]
    assert h.p_suc == pytest.approx(
        np.trace(rho).real - np.trace(rho).real + sum(rho[i, i].real for i in idx),
        rel=1e-14,
    )
    np.testing.assert_allclose(h.rho_post, rho[np.ix_(idx, idx)] / h.p_suc, atol=1e-15)


def test_filter_superoperators_sum_to_the_measurement_channel() -> None:
    machine = qutrit()
    maps = filter_superoperators(machine.filter)
    rho = steady_state(ResetModel(machine, 0.002, 0.01))
    vec = rho.reshape(-1, order="F")
    total = sum(m @ vec for m in maps.values()).reshape(9, 9, order="F")
    projectors = machine.filter.joint_projectors().values()
    np.testing.assert_allclose(total, sum(P @ rho @ P for P in projectors), atol=1e-15)
    assert abs(total[machine.index(2, 0), machine.index(0, 2)]) == 0  # decohered
    assert abs(rho[machine.index(2, 0), machine.index(0, 2)]) > 0
    p = {k: np.trace((m @ vec).reshape(9, 9, order="F")).real for k, m in maps.items()}
    assert p["pass_pass"] == pytest.approx(herald(rho, machine.filter).p_suc, rel=1e-14)


def test_target_is_the_limit_state() -> None:
    """Eq. 7, 11, D5: rho' -> |target> as p_A/p_B -> 0 (basis of filters.py)."""
    for machine in (
        qutrit(g=1e-3, theta=0.3),
        qudit(4, g=1e-3),
        schmidt([0.6, 0.0, 0.8], g=1e-3),
    ):
        rho = steady_state(ResetModel(machine, p_A=1e-7, p_B=1e-2))
        rho_post = herald(rho, machine.filter).rho_post
        assert machine.target.conj() @ rho_post @ machine.target == pytest.approx(
            1.0, abs=1e-4
        )


def test_paper_eq7_basis_is_swapped_relative_to_ours() -> None:
    """Eq. 6-7 put sin(theta) on |0,1>; with |a,b> ordered as in filters.py the
    steady state carries cos(theta) there (g1 = g cos(theta) couples |0,2>)."""
    theta = 0.3
    machine = qutrit(g=1e-3, theta=theta)
    rho_post = herald(
        steady_state(ResetModel(machine, 1e-7, 1e-2)), machine.filter
    ).rho_post
    assert rho_post[1, 1].real == pytest.approx(math.cos(theta) ** 2, abs=1e-4)
    assert rho_post[2, 2].real == pytest.approx(math.sin(theta) ** 2, abs=1e-4)
