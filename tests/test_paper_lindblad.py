"""Eqs. F1-F5 (App. F) against the package's Lindblad and reset models.

F1 is a definition: the package's ``LindbladModel`` Liouvillian must equal the master
equation written out from the printed formula (``paper.f1_liouvillian``, dense NumPy)
and the one QuTiP builds from hand-made jump operators. F2-F4 are the conditions
under which F1 reproduces the reset model (Eq. 4) at T_A = inf, T_B = 0; F5 is
detailed balance. Notation typo of F2 stated and pinned in
``test_f2_as_printed_counts_the_bose_factor_twice``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import qutip

from trajectories.exact.states import steady_state
from trajectories.paper import lindblad as paper
from trajectories.paper.lindblad import CAPTION, VARIANTS
from trajectories.system.baths import bose_einstein, thermal_state, transition_rates
from trajectories.system.machine import Machine
from trajectories.system.machines import qudit, qutrit
from trajectories.system.models import LindbladModel, ResetModel

RTOL = 1e-9

MACHINES = {
    "caption": lambda: qutrit(g=CAPTION["g"], eps=CAPTION["eps"]),
    "qutrit-A1": lambda: qutrit(g=0.01, theta=0.3, eps=1.5, g3=0.004),
    "qudit-3": lambda: qudit(3, g=0.01, eps=2.0),
}
TEMPERATURES = [(3.0, 0.2), (0.5, 1.3), (20.0, 0.0)]
GAMMAS = [
    (CAPTION["Gamma_A"], CAPTION["Gamma_B"]),
    ({(0, 1): 1e-4, (1, 2): 3e-4}, {(0, 1): 5e-3, (0, 2): 5e-3}),  # F3-F4 on B
]


def _close(actual: np.ndarray, expected: np.ndarray) -> None:
    """Entrywise agreement to 1e-12 relative (rates here >= 1e-9; zeros to 1e-17)."""
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-17)


def _populations(L: np.ndarray, D: int) -> np.ndarray:
    """The population block of a Liouvillian (D^2, D^2): the classical rate matrix."""
    diag = np.arange(D) * (D + 1)
    return L[np.ix_(diag, diag)]


# ------------------------------------------------------------------------ Eq. F1


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize(("T_A", "T_B"), TEMPERATURES)
@pytest.mark.parametrize("gammas", range(len(GAMMAS)))
def test_f1_written_out_is_the_package_liouvillian(
    machine: str, T_A: float, T_B: float, gammas: int
) -> None:
    """LindbladModel (with and without the F6 dephasing, both pictures) equals the
    master equation F1 written out from its printed rates, F9-F11 jumps and D[.]."""
    m = MACHINES[machine]()
    Gamma_A, Gamma_B = GAMMAS[gammas]
    rates = paper.f1_rates(m, T_A, T_B, Gamma_A, Gamma_B)
    for gamma in (0.0, CAPTION["gamma"]):
        model = LindbladModel(m, T_A, T_B, Gamma_A, Gamma_B, dephasing=gamma)
        for ip in (True, False):
            _close(
                model.liouvillian(ip).toarray(),
                paper.f1_liouvillian(
                    m, rates, paper.f6_dephasing(gamma, m.dims), interaction_picture=ip
                ),
            )


def test_f1_rates_are_the_package_rates() -> None:
    """Gamma^+ = Gamma n_B, Gamma^- = Gamma (1 + n_B), n_B = 1/(e^{E/T} - 1) (F1)
    are the squared amplitudes of the package's jump operators."""
    m = MACHINES["qudit-3"]()
    model = LindbladModel(m, 2.5, 0.4, 1e-4, 5e-3)
    amp = {j.name: abs(j.vals[0]) ** 2 for j in model.jump_operators()}
    rates = paper.f1_rates(m, 2.5, 0.4, 1e-4, 5e-3)
    assert len(amp) == 2 * sum(len(r) for r in rates.values())
    for side, per_side in rates.items():
        for (i, j), (up, down) in per_side.items():
            assert amp[f"{side}:up {i}->{j}"] == pytest.approx(up, rel=1e-13)
            assert amp[f"{side}:down {j}->{i}"] == pytest.approx(down, rel=1e-13)


def test_f1_against_qutip() -> None:
    """The caption model of Fig. 5(b) built by hand in QuTiP (H_int of Eq. 3, the
    F9-F12 operators with their F1 / F6 rates) has the package's Liouvillian and
    steady state."""
    g1 = g2 = CAPTION["g"] / math.sqrt(2)
    T_A, T_B, gamma = 3.0, 0.2, CAPTION["gamma"]
    E = (0.0, 1.0, 1.0 + CAPTION["eps"])  # A; B has the gaps reversed
    E_B = (0.0, CAPTION["eps"], 1.0 + CAPTION["eps"])

    def ket(a: int, b: int) -> qutip.Qobj:
        return qutip.tensor(qutip.basis(3, a), qutip.basis(3, b))

    H = g1 * ket(2, 0) * ket(0, 2).dag() + g2 * ket(2, 0) * ket(1, 1).dag()
    H = H + H.dag()
    c_ops = []
    for side, levels, T, Gamma in (("A", E, T_A, 1e-4), ("B", E_B, T_B, 5e-3)):
        for i, j in ((0, 1), (0, 2), (1, 2)):
            n = 1 / (math.exp((levels[j] - levels[i]) / T) - 1)
            up = qutip.basis(3, j) * qutip.basis(3, i).dag()
            for op, rate in ((up, Gamma * n), (up.dag(), Gamma * (1 + n))):
                full = (
                    qutip.tensor(op, qutip.qeye(3))
                    if side == "A"
                    else qutip.tensor(qutip.qeye(3), op)
                )
                c_ops.append(math.sqrt(rate) * full)
        for lvl in (1, 2):
            P = qutip.basis(3, lvl) * qutip.basis(3, lvl).dag()
            full = (
                qutip.tensor(P, qutip.qeye(3))
                if side == "A"
                else qutip.tensor(qutip.qeye(3), P)
            )
            c_ops.append(math.sqrt(gamma) * full)
    model = LindbladModel(
        qutrit(g=CAPTION["g"], eps=CAPTION["eps"]), T_A, T_B, 1e-4, 5e-3, gamma
    )
    _close(model.liouvillian().toarray(), qutip.liouvillian(H, c_ops).full())
    ref = qutip.steadystate(H, c_ops).full()
    np.testing.assert_allclose(steady_state(model), ref, rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize("key", ["printed", "F3F4"])
def test_f1_free_hamiltonian_drops_out_of_the_steady_state(key: str) -> None:
    """App. F: H_int is energy conserving, so only it matters in the commutator: the
    steady state with H_A + H_B + H_int equals the interaction-picture one."""
    for T_A, T_B in ((0.7, 0.3), (20.0, 0.3), (2.0, 0.05)):
        model = VARIANTS[key].model(T_A, T_B)
        np.testing.assert_allclose(
            steady_state(model, interaction_picture=False),
            steady_state(model),
            rtol=RTOL,
            atol=1e-15,
        )


# -------------------------------------------------------------- Eqs. F2-F4


@pytest.mark.parametrize(
    "machine",
    [qutrit(g=0.01, theta=0.3), qutrit(g=0.02, eps=3.0, g3=0.005)],
    ids=["qutrit", "qutrit-A1"],
)
@pytest.mark.parametrize(("p_A", "p_B"), [(0.002, 0.01), (0.01, 0.003)])
def test_reset_model_is_f1_with_f2_f4_rates_plus_dephasing(
    machine: Machine, p_A: float, p_B: float
) -> None:
    """With the rates of F2 (corrected) and F3-F4 the reset model at T_A = inf,
    T_B = 0 is F1 plus pure dephasing: p_A/3 D[|i><i|] on every level of A and
    p_B D[|0><0|] on B. Without that dephasing the population blocks agree: the
    identification "term by term for the 9 populations" of App. F."""
    reset = ResetModel(machine, p_A=p_A, p_B=p_B, T_A=math.inf, T_B=0.0)
    L_reset = reset.liouvillian().toarray()
    rates = paper.reset_rates(p_A, p_B)
    _close(
        L_reset, paper.f1_liouvillian(machine, rates, paper.reset_dephasing(p_A, p_B))
    )
    L_f1 = paper.f1_liouvillian(machine, rates)
    _close(_populations(L_f1, 9), _populations(L_reset, 9))
    assert np.abs(L_f1 - L_reset).max() > 0.1 * min(p_A, p_B)  # coherences differ


def test_f2_rates_are_those_of_the_reset() -> None:
    """The reset of A at T_A = inf moves population between any two levels at rate
    p_A/3 (both directions): Gamma_i^+ = Gamma_i^- = p_A/3 for i = 01, 02, 12."""
    p_A, p_B = 0.004, 0.01
    L = ResetModel(qutrit(g=0.0), p_A=p_A, p_B=0.0).liouvillian().toarray()
    W = _populations(L, 9)  # rate |a', b> -> |a, b> at W[(a, b), (a', b)]
    for b in range(3):
        for a in range(3):
            for a2 in range(3):
                if a != a2:
                    assert W[3 * a + b, 3 * a2 + b] == pytest.approx(p_A / 3, rel=1e-14)
    for up, down in paper.reset_rates(p_A, p_B)["A"].values():
        assert up == down == p_A / 3


def test_f2_as_printed_counts_the_bose_factor_twice() -> None:
    """Typo (notation): Gamma_i^+ = Gamma_i n_B and Gamma_i^- = Gamma_i (1 + n_B)
    (F1), so printed F2, Gamma_i^+ n_B = Gamma_i^- (1 + n_B) = p_A/3, asks
    Gamma^+ = p_A/(3 n_B) and Gamma^- = p_A/(3 (1 + n_B)): a ratio Gamma^+/Gamma^- =
    e^{+E/T}, the inverse of F5, which no F1 rates have at any T, and rates that
    vanish as T_A -> inf. The correct condition Gamma^+ = Gamma^- = p_A/3 is reached
    by F1 as T_A -> inf with Gamma_i = p_A/(3 n_B(E_i, T_A)), to relative E_i/T_A."""
    p_A = 0.003
    E = 1.0
    for T in (0.5, 2.0, 50.0):
        n = bose_einstein(E, T)
        up, down = p_A / (3 * n), p_A / (3 * (1 + n))  # literal F2
        assert up / down == pytest.approx(math.exp(E / T), rel=1e-12)
        f1_up, f1_down = transition_rates(1.0, E, T)
        assert f1_up / f1_down == pytest.approx(math.exp(-E / T), rel=1e-12)
    m = qutrit(g=0.0, eps=1.5)
    L_reset = ResetModel(m, p_A=p_A, p_B=0.01).liouvillian().toarray()
    E_A = m.energies_A
    for T_A in (1e3, 1e6):
        Gamma_A = {
            (i, j): p_A / (3 * bose_einstein(E_A[j] - E_A[i], T_A))
            for i, j in ((0, 1), (0, 2), (1, 2))
        }
        model = LindbladModel(m, T_A, 0.0, Gamma_A, {(0, 1): 0.01, (0, 2): 0.01})
        diff = _populations(model.liouvillian().toarray() - L_reset, 9)
        # Gamma^- = p_A/3 (1 + 1/n_B): largest on the out-rate of |2> (2->0, 2->1)
        excess = math.expm1(E_A[2] / T_A) + math.expm1((E_A[2] - E_A[1]) / T_A)
        assert np.abs(diff).max() == pytest.approx(p_A / 3 * excess, rel=1e-6)


@pytest.mark.parametrize(("T_A", "T_B"), [(2.0, 0.0), (20.0, 0.0)])
def test_f3_f4_hold_for_the_f3f4_reading_at_zero_t_b(T_A: float, T_B: float) -> None:
    """F3-F4: B relaxes 1 -> 0 and 2 -> 0 at p_B, nothing else. The F3-F4 reading
    (B coupled on 01, 02 only) at T_B = 0 has exactly these jumps (p_B = Gamma_B),
    and the reset of B to |0> is these two jumps plus sqrt(p_B) |0><0| (dephasing)."""
    v = VARIANTS["F3F4"]
    jumps = {j.name: j.op.toarray() for j in v.model(T_A, T_B).jump_operators()}
    thermal_B = {
        name: np.abs(op).max() ** 2
        for name, op in jumps.items()
        if name.startswith(("B:up", "B:down"))
    }
    assert thermal_B == pytest.approx(
        {"B:down 1->0": v.Gamma_B, "B:down 2->0": v.Gamma_B}, rel=1e-14
    )
    Gamma_B = {(0, 1): v.Gamma_B, (0, 2): v.Gamma_B}
    rates = paper.f1_rates(v.model(T_A, T_B).machine, T_A, T_B, v.Gamma_A, Gamma_B)
    assert rates["B"] == paper.reset_rates(0.0, v.Gamma_B)["B"]
    reset_B = ResetModel(qutrit(g=0.0), p_A=0.0, p_B=v.Gamma_B, T_B=0.0)
    reset = {j.name: j.op.toarray() for j in reset_B.jump_operators()}
    assert set(reset) == {"B:reset 0->0", "B:reset 1->0", "B:reset 2->0"}
    for k in (1, 2):
        np.testing.assert_allclose(
            reset[f"B:reset {k}->0"], jumps[f"B:down {k}->0"], rtol=1e-15
        )
    ground_B = np.kron(np.eye(3), np.diag([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(
        reset["B:reset 0->0"], math.sqrt(v.Gamma_B) * ground_B, rtol=1e-15
    )


@pytest.mark.parametrize("T_B", [0.0, 0.05, 0.3, 1.0])
def test_printed_f6_model_violates_f4(T_B: float) -> None:
    """The printed model couples B's 1-2 transition: Gamma_12^- = Gamma_B (1 + n_B)
    >= Gamma_B > 0 at every T_B (the 2 -> 1 relaxation that caps N at 0.244), and
    for T_B > 0 absorption Gamma^+ > 0 too; F4 wants both 0."""
    v = VARIANTS["printed"]
    amp = {j.name: abs(j.vals[0]) ** 2 for j in v.model(1.0, T_B).jump_operators()}
    assert amp["B:down 2->1"] == pytest.approx(
        v.Gamma_B * (1 + bose_einstein(1.0, T_B)), rel=1e-13
    )
    assert amp["B:down 2->1"] >= v.Gamma_B
    assert ("B:up 1->2" in amp) == (T_B > 0)


# ------------------------------------------------------------------------ Eq. F5


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize(("T_A", "T_B"), [(3.0, 0.2), (0.5, 1.3), (40.0, 0.05)])
def test_f5_gibbs_ratio_of_every_jump_pair(
    machine: str, T_A: float, T_B: float
) -> None:
    """Gamma_i^+ / Gamma_i^- = exp(-E_i/T_i) for every transition of the package's
    LindbladModel (and Gamma^- - Gamma^+ = Gamma)."""
    m = MACHINES[machine]()
    model = LindbladModel(m, T_A, T_B, 1e-4, 5e-3)
    amp = {j.name: abs(j.vals[0]) ** 2 for j in model.jump_operators()}
    for side, E, T, Gamma in (
        ("A", m.energies_A, T_A, 1e-4),
        ("B", m.energies_B, T_B, 5e-3),
    ):
        for i in range(len(E)):
            for j in range(i + 1, len(E)):
                up, down = amp[f"{side}:up {i}->{j}"], amp[f"{side}:down {j}->{i}"]
                assert up / down == pytest.approx(
                    math.exp(-(E[j] - E[i]) / T), rel=1e-12
                )
                assert down - up == pytest.approx(Gamma, rel=1e-12)


@pytest.mark.parametrize("key", ["printed", "F3F4"])
def test_f5_each_qutrit_thermalises_without_interaction(key: str) -> None:
    """Detailed balance: with g = 0 the steady state is the product of the Gibbs
    states at T_A and T_B, also when B is coupled on 01, 02 only (F3-F4 reading)."""
    from dataclasses import replace

    v = replace(VARIANTS[key], g1=0.0, g2=0.0)
    model = v.model(2.0, 0.5)
    m = model.machine
    expected = np.kron(
        thermal_state(m.energies_A, 2.0), thermal_state(m.energies_B, 0.5)
    )
    np.testing.assert_allclose(steady_state(model), expected, rtol=RTOL, atol=1e-15)
