"""Default targets against the ideal limits of their machines.

For every machine kind with a default target (and the machine of every preset),
the fidelity <target|rho'|target> of the exact post-selected state
rho' (Eq. 5) must reach the paper's value in the machine's ideal limit. The ideal
values come from the paper's closed forms alone, never from ``machine.target``: for
the X states of Apps. E and G (populations on the diagonal, one coherence rho'_12) it
is the fidelity with the best-phased (|0,1> + e^{i phi}|1,0>)/sqrt 2, namely
(rho'_11 + rho'_22)/2 + |rho'_12|. A target with a wrong phase therefore fails, which
``test_a_rephased_target_misses_the_ideal_value`` checks for every case.

Limits (reset model, Eq. 4, unless stated):

* qutrit (Eqs. 6-7, B2-B6): T_A = inf, T_B = 0, mu = p_A/p_B = 1e-4, g = 0.1 p_B: the
  exact closed form B2, 1 - F = O(mu);
* qudit (Eqs. 11, C11-C12): same baths, 1 - F = (d^2-1) p_A/(d(d p_A + (d+1) p_B))
  exactly, for any g; complex couplings g_k e^{i phi_k} only rephase the A levels
  k-1 (a local unitary), so C12 holds with the target sum_k conj(g_k)|k-1,d-k>/||g||;
* schmidt (Eqs. D3, D5, d = 3): same baths, 1 - F = O(mu) (below mu here);
* one-step (Eqs. E2-E5): T_A = inf, T_B = 0, g_1 = p_B/2, p_A = g = 1e-3 p_B: F tends
  to 1/2 + eta_d as g/p_B -> 0 (the coherence of E3 is -i eta_d), off by O(g/p_B);
* qubit-qubit (Eqs. G1-G4): no filter; at T_A = inf, T_B = 0 (the G2 point) and with
  population inversion T_A = -0, p_A = p_B, g = p_B/(1 + sqrt 3) (the G4 optimum), F
  equals the X-state value of G1, G3;
* qubit-qutrit (Eqs. G6, G8): T_A = 0, T_B = inf (filter on the upper qutrit levels)
  and T_A = -0, T_B = 0 (lower levels), p_B = 1e-9 -> 0, p_A as chosen after G6;
* presets: the preset's machine in the qutrit/qudit limit above; for a Lindblad preset
  also the Lindblad model (Eq. F1) closest to the reset limit (Eqs. F2-F4): T_B = 0
  with no 1-2 transition on B, T_A = 100, Gamma_A = 1e-8 << Gamma_B, where 1 - F < 1e-3.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from analysis.measures import fidelity
from trajectories.exact.states import herald, steady_state
from trajectories.paper import qudit as paper_qudit
from trajectories.paper import qutrit as paper_qutrit
from trajectories.paper import small_machines as paper_g
from trajectories.paper.one_step import eta
from trajectories.pipeline.config import load_config, preset_names
from trajectories.system.machine import Machine
from trajectories.system.machines import (
    PRESETS,
    one_step,
    qubit_qubit,
    qubit_qutrit,
    qudit,
    qutrit,
    schmidt,
)
from trajectories.system.models import LindbladModel, OpenSystem, ResetModel

P_B = 1e-2
MU = 1e-4
P_A = MU * P_B
INF = math.inf


@dataclass(frozen=True)
class Case:
    """A model in its machine's ideal limit, the ideal fidelity and its tolerance."""

    model: OpenSystem
    ideal: float
    tol: float


def post_selected(model: OpenSystem) -> np.ndarray:
    """rho' (Eq. 5) of the exact steady state, in the relabelled filtered basis."""
    return herald(steady_state(model), model.machine.filter).rho_post


def x_state_fidelity(rho: np.ndarray) -> float:
    """Largest fidelity of an X state with (|0,1> + e^{i phi}|1,0>)/sqrt 2 over phi."""
    return float((rho[1, 1].real + rho[2, 2].real) / 2 + abs(rho[1, 2]))


def reset_limit(machine: Machine) -> ResetModel:
    """T_A = inf, T_B = 0, p_A = 1e-4 p_B (Eqs. 6-7, C12, D3)."""
    return ResetModel(machine, P_A, P_B, INF, 0.0)


def qutrit_case(machine: Machine) -> Case:
    """Eq. B2 (exact, any g) against Eq. 7's |psi_theta>, 1 - F = O(mu)."""
    p = machine.params
    assert p["g3"] == 0, "Eq. B2 has no g3 term"
    rho = paper_qutrit.filtered_state(p["g"], p["theta"], P_A, P_B)
    psi = paper_qutrit.pure_state(p["theta"])
    ideal = float(np.real(psi.conj() @ rho @ psi))
    assert ideal > 1 - MU
    return Case(reset_limit(machine), ideal, 1e-9)


def qudit_case(machine: Machine) -> Case:
    """Eq. C12 exactly: 1 - F = (d^2-1) p_A / (d (d p_A + (d+1) p_B))."""
    assert machine.params["g3"] == 0, "Eq. C12 has no g3 term"
    d = machine.params["d"]
    ideal = 1 - paper_qudit.fidelity_deficit(d, P_A, P_B)
    assert ideal > 1 - MU
    return Case(reset_limit(machine), ideal, 1e-9)


def one_step_case(d: int) -> Case:
    """Eqs. E2-E5: F -> 1/2 + eta_d for g_1 = p_B/2, p_A = g, g/p_B -> 0."""
    g = 1e-3 * P_B
    model = ResetModel(one_step(d, g=g, g1=P_B / 2), g, P_B, INF, 0.0)
    return Case(model, 0.5 + float(eta(d)), 5e-4)


def qubit_qubit_cases() -> dict[str, Case]:
    """Eq. G1 at the G2 point, Eq. G3 at the G4 optimum (population inversion)."""
    g, p_A, p_B = 2.2e-3, 2.3e-3, 9.5e-3
    hot = ResetModel(qubit_qubit(g), p_A, p_B, INF, 0.0)
    g_inv = P_B / (1 + math.sqrt(3))
    inverted = ResetModel(qubit_qubit(g_inv), P_B, P_B, "-0", 0.0)
    return {
        "qubit-qubit G1": Case(
            hot, x_state_fidelity(paper_g.qubit_qubit_state(g, p_A, p_B)), 1e-10
        ),
        "qubit-qubit G3": Case(
            inverted,
            x_state_fidelity(paper_g.qubit_qubit_inverted_state(g_inv, P_B, P_B)),
            1e-10,
        ),
    }


def qubit_qutrit_cases() -> dict[str, Case]:
    """Eqs. G6 (upper levels) and G8 (lower levels, inversion) as p_B -> 0."""
    g1, g2, p_B = 1e-2, 5e-3, 1e-9
    p_A = paper_g.qubit_qutrit_best_p_A(g1, g2)
    upper = ResetModel(qubit_qutrit(g1, g2, "upper"), p_A, p_B, 0.0, INF)
    lower = ResetModel(qubit_qutrit(g1, g2, "lower"), p_A, p_B, "-0", 0.0)
    G6 = paper_g.qubit_qutrit_state(g1, g2, p_A)
    G8 = paper_g.qubit_qutrit_inverted_state(g1, g2, p_A)
    return {
        "qubit-qutrit G6": Case(upper, x_state_fidelity(G6), 1e-6),
        "qubit-qutrit G8": Case(lower, x_state_fidelity(G8), 1e-6),
    }


RESET_IDEAL: dict[str, Callable[[Machine], Case]] = {
    "qutrit": qutrit_case,
    "qudit": qudit_case,
}
"""The ideal limit of a preset's machine, by kind."""


def lindblad_case(machine: Machine) -> Case:
    """Eq. F1 as close to the reset limit as detailed balance allows (Eqs. F2-F4)."""
    assert machine.dims == (3, 3), "Eqs. F2-F4 are written for two qutrits"
    Gamma_B = {(0, 1): 5e-3, (0, 2): 5e-3}  # F4: no 1-2 transition on the cold side
    model = LindbladModel(machine, 100.0, 0.0, 1e-8, Gamma_B)
    return Case(model, 1.0, 1e-3)


def preset_cases() -> dict[str, Case]:
    """Every preset: its machine in its ideal limit(s)."""
    out = {}
    for name in preset_names():
        config = load_config(name)
        machine = config.build_model().machine
        kind = config.machine["kind"]
        if kind not in RESET_IDEAL:
            pytest.fail(f"preset {name}: no ideal limit for kind={kind!r}")
        out[f"preset {name}"] = RESET_IDEAL[kind](machine)
        if config.baths["model"] == "lindblad":
            out[f"preset {name} Lindblad F2-F4"] = lindblad_case(machine)
    return out


def all_cases() -> dict[str, Case]:
    complex_g = [1e-3 / math.sqrt(2) * np.exp(1j * k) for k in range(4)]
    schmidt_machine = schmidt([0.48, 0.6, 0.64], g=1e-3)
    return {
        "qutrit theta=0.3": qutrit_case(qutrit(g=1e-3, theta=0.3)),
        "qutrit theta=1.2": qutrit_case(qutrit(g=5e-3, theta=1.2, eps=0.5)),
        "qudit d=3": qudit_case(qudit(3, g=1e-3)),
        "qudit d=4 complex couplings": qudit_case(qudit(4, couplings=complex_g)),
        "schmidt d=3": Case(reset_limit(schmidt_machine), 1.0, MU),
        "one-step d=3": one_step_case(3),
        "one-step d=4": one_step_case(4),
        **qubit_qubit_cases(),
        **qubit_qutrit_cases(),
        **preset_cases(),
    }


CASES = all_cases()


def test_every_kind_with_a_target_is_covered() -> None:
    covered = {case.model.machine.name for case in CASES.values()}
    with_target = {kind for kind in PRESETS if _default(kind) is not None}
    assert with_target <= covered, f"no ideal limit for {with_target - covered}"
    presets = {f"preset {name}" for name in preset_names()}
    assert presets <= set(CASES)


def _default(kind: str) -> np.ndarray | None:
    """The default target of a kind, built with its default arguments."""
    args = {"qudit": {"d": 3}, "one-step": {"d": 3}, "schmidt": {"lambdas": [0.6, 0.8]}}
    return PRESETS[kind](**args.get(kind, {})).target


@pytest.mark.parametrize("name", sorted(CASES))
def test_target_fidelity_reaches_the_ideal_limit(name: str) -> None:
    case = CASES[name]
    F = fidelity(post_selected(case.model), case.model.machine.target)
    assert F == pytest.approx(case.ideal, abs=case.tol), (
        f"{name}: fidelity {F:.6f} with the default target, ideal {case.ideal:.6f}"
    )


def rephased(target: np.ndarray, k_B: int) -> np.ndarray:
    """The target with a phase i on every component of odd A level (local S gate)."""
    a = np.arange(target.size) // k_B
    return target * np.where(a % 2 == 1, 1j, 1.0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_rephased_target_misses_the_ideal_value(name: str) -> None:
    """The check above is phase sensitive: a target off by a local phase fails it."""
    case = CASES[name]
    machine = case.model.machine
    wrong = rephased(machine.target, machine.filter.kept_dims[1])
    F = fidelity(post_selected(case.model), wrong)
    assert abs(F - case.ideal) > 10 * case.tol
