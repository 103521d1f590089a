"""Bad input: every public constructor and function refuses it with a ValueError
whose message names the parameter, its value and the valid range."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pytest

from analysis import measures
from trajectories.exact.states import herald
from trajectories.system.baths import (
    bose_einstein,
    thermal_populations,
    thermal_state,
    transition_rates,
)
from trajectories.system.checks import parse_temperature
from trajectories.system.filters import Filter
from trajectories.system.machine import Machine, Transition
from trajectories.system.machines import (
    one_step,
    qubit_qubit,
    qubit_qutrit,
    qudit,
    qudit_energies,
    qutrit,
    schmidt,
)
from trajectories.system.models import LindbladModel, ResetModel

NAN, INF = math.nan, math.inf
QUTRIT = qutrit()
RESONANT = [Transition((0, 1), (1, 0), 0.1)]  # |0,1> <-> |1,0>, both at energy 1
BELL = np.outer([0, 1, 1, 0], [0, 1, 1, 0]) / 2
RANGE_RATE = r"finite rate >= 0"
RANGE_T = r"number >= 0, 'inf', or '-0'"


def reset(**kw: object) -> ResetModel:
    args: dict[str, object] = {"p_A": 1e-3, "p_B": 1e-2, "T_A": INF, "T_B": 0.0}
    return ResetModel(QUTRIT, **(args | kw))


def lindblad(**kw: object) -> LindbladModel:
    args: dict[str, object] = {"T_A": 2.0, "T_B": 0.1, "Gamma_A": 1e-3, "Gamma_B": 1e-2}
    return LindbladModel(QUTRIT, **(args | kw))


def case(func: Callable[[], object], match: str, id: str) -> object:
    return pytest.param(func, match, id=id)


CASES = [
    # ------------------------------------------------------------------ rates
    case(lambda: reset(p_A=-1.0), rf"p_A=-1\.0 must be a {RANGE_RATE}", "p_A<0"),
    case(lambda: reset(p_B=-1e-3), rf"p_B=-0\.001 must be a {RANGE_RATE}", "p_B<0"),
    case(lambda: reset(p_A=NAN), rf"p_A=nan must be a {RANGE_RATE}", "p_A nan"),
    case(lambda: reset(p_B=INF), rf"p_B=inf must be a {RANGE_RATE}", "p_B inf"),
    case(lambda: reset(p_A="0.1"), rf"p_A='0\.1' must be a {RANGE_RATE}", "p_A str"),
    case(lambda: reset(p_B=True), rf"p_B=True must be a {RANGE_RATE}", "p_B bool"),
    case(lambda: reset(p_A=None), rf"p_A=None must be a {RANGE_RATE}", "p_A None"),
    case(lambda: lindblad(Gamma_A=-1.0), rf"Gamma_A=-1\.0 .*{RANGE_RATE}", "G_A<0"),
    case(lambda: lindblad(Gamma_B=NAN), rf"Gamma_B=nan .*{RANGE_RATE}", "G_B nan"),
    case(lambda: lindblad(Gamma_B=INF), rf"Gamma_B=inf .*{RANGE_RATE}", "G_B inf"),
    case(lambda: lindblad(Gamma_A="x"), rf"Gamma_A='x' .*{RANGE_RATE}", "G_A str"),
    case(
        lambda: lindblad(dephasing=-1e-4),
        rf"dephasing=-0\.0001 must be a {RANGE_RATE}",
        "dephasing<0",
    ),
    case(lambda: lindblad(dephasing=NAN), rf"dephasing=nan .*{RANGE_RATE}", "deph nan"),
    case(
        lambda: lindblad(Gamma_A={(0, 1): -1.0}),
        rf"Gamma_A\[\(0, 1\)\]=-1\.0 must be a {RANGE_RATE}",
        "G_A map<0",
    ),
    case(
        lambda: lindblad(Gamma_B={(0, 2): NAN}),
        rf"Gamma_B\[\(0, 2\)\]=nan must be a {RANGE_RATE}",
        "G_B map nan",
    ),
    case(
        lambda: lindblad(Gamma_A={(1, 0): 1e-3}),
        r"Gamma_A has transitions \[\(1, 0\)\]; valid pairs are \[\(0, 1\)",
        "G_A map reversed",
    ),
    case(
        lambda: lindblad(Gamma_A={(0, 3): 1e-3}),
        r"Gamma_A has transitions \[\(0, 3\)\]; valid pairs",
        "G_A map outside",
    ),
    case(
        lambda: lindblad(Gamma_B={5: 1e-3}),
        r"Gamma_B has transitions \[5\]; valid pairs",
        "G_B map int key",
    ),
    case(
        lambda: transition_rates(-1.0, 1.0, 0.5),
        rf"Gamma=-1\.0 must be a {RANGE_RATE}",
        "transition_rates Gamma<0",
    ),
    case(
        lambda: transition_rates("x", 1.0, 0.5),
        rf"Gamma='x' must be a real number, a {RANGE_RATE}",
        "transition_rates Gamma str",
    ),
    # ----------------------------------------------------------- temperatures
    case(lambda: parse_temperature(-1.0), r"T=-1\.0 is negative.*'-0'", "T=-1"),
    case(lambda: parse_temperature(-1e-300), r"T=-1e-300 is negative", "T tiny<0"),
    case(lambda: parse_temperature(-INF), r"T=-inf is negative.*0 <= T", "T=-inf"),
    case(lambda: parse_temperature(NAN), rf"T=nan .*{RANGE_T}", "T nan"),
    case(lambda: parse_temperature("nan"), rf"T=nan .*{RANGE_T}", "T 'nan'"),
    case(lambda: parse_temperature("-2"), r"T=-2\.0 is negative", "T '-2'"),
    case(lambda: parse_temperature("-inf"), r"T=-inf is negative", "T '-inf'"),
    case(lambda: parse_temperature("hot"), rf"T='hot' .*{RANGE_T}", "T 'hot'"),
    case(lambda: parse_temperature(""), rf"T='' .*{RANGE_T}", "T ''"),
    case(lambda: parse_temperature(True), rf"T=True .*{RANGE_T}", "T True"),
    case(lambda: parse_temperature(False), rf"T=False .*{RANGE_T}", "T False"),
    case(lambda: parse_temperature(None), rf"T=None .*{RANGE_T}", "T None"),
    case(lambda: parse_temperature(1j), rf"T=1j .*{RANGE_T}", "T complex"),
    case(lambda: parse_temperature([1.0]), rf"T=\[1\.0\] .*{RANGE_T}", "T list"),
    case(lambda: reset(T_A=-1.0), r"T_A=-1\.0 is negative.*'-0'", "reset T_A<0"),
    case(lambda: reset(T_B=NAN), rf"T_B=nan .*{RANGE_T}", "reset T_B nan"),
    case(lambda: reset(T_B="cold"), rf"T_B='cold' .*{RANGE_T}", "reset T_B str"),
    case(lambda: lindblad(T_A=-INF), r"T_A=-inf is negative", "lindblad T_A=-inf"),
    case(lambda: lindblad(T_B=False), rf"T_B=False .*{RANGE_T}", "lindblad T_B bool"),
    case(
        lambda: lindblad(T_A=INF),
        r"T_A=inf: the Lindblad model needs a finite temperature.*0 <= T < inf",
        "lindblad T_A=inf",
    ),
    case(
        lambda: lindblad(T_B="inf"),
        r"T_B=inf: the Lindblad model needs a finite temperature.*0 <= T < inf",
        "lindblad T_B='inf'",
    ),
    case(
        lambda: transition_rates(1.0, 1.0, INF),
        r"T=inf: .*finite temperature.*0 <= T < inf",
        "transition_rates T=inf",
    ),
    case(
        lambda: thermal_populations([0.0, 1.0], -2.0),
        r"T=-2\.0 is negative",
        "thermal T<0",
    ),
    case(lambda: bose_einstein(1.0, -0.5), r"T=-0\.5 is negative", "bose T<0"),
    # ------------------------------------------------------------- dimensions
    case(lambda: qudit(1), r"d=1 must be an integer >= 2", "qudit d=1"),
    case(lambda: qudit(0), r"d=0 must be an integer >= 2", "qudit d=0"),
    case(lambda: qudit(-3), r"d=-3 must be an integer >= 2", "qudit d<0"),
    case(lambda: qudit(2.5), r"d=2\.5 must be an integer >= 2", "qudit d=2.5"),
    case(lambda: qudit(3.0), r"d=3\.0 must be an integer >= 2", "qudit d=3.0"),
    case(lambda: qudit("3"), r"d='3' must be an integer >= 2", "qudit d str"),
    case(lambda: qudit(True), r"d=True must be an integer >= 2", "qudit d bool"),
    case(lambda: one_step(2), r"d=2 must be an integer >= 3", "one_step d=2"),
    case(lambda: one_step(1), r"d=1 must be an integer >= 3", "one_step d=1"),
    case(lambda: one_step(3.5), r"d=3\.5 must be an integer >= 3", "one_step d=3.5"),
    case(lambda: one_step(True), r"d=True must be an integer >= 3", "one_step bool"),
    # ------------------------------------------------ energy conservation
    case(
        lambda: Machine((0.0, 1.0), (0.0, 2.0), RESONANT),
        r"does not conserve energy.*non-resonant transitions \(0, 1\)<->\(1, 0\) "
        r"\(energies 2 vs 1\)",
        "non-resonant transition",
    ),
    case(
        lambda: Machine(
            (0.0, 1.0, 2.0), (0.0, 1.0, 2.0), [Transition((0, 2), (1, 0), 0.01)]
        ),
        r"does not conserve energy.*\(0, 2\)<->\(1, 0\) \(energies 2 vs 1\)",
        "qutrit non-resonant",
    ),
    case(
        lambda: Machine((0.0, 1.0), (0.0, 1.0 + 1e-6), RESONANT),
        r"does not conserve energy",
        "slightly detuned",
    ),
    # -------------------------------------------------- transitions, levels
    case(
        lambda: Machine((0, 1), (0, 1), [Transition((0, 1), (2, 0), 0.1)]),
        r"transition bra=\(2, 0\) is outside the levels 0\.\.1 x 0\.\.1",
        "bra outside",
    ),
    case(
        lambda: Machine((0, 1), (0, 1), [Transition((0, 2), (1, 0), 0.1)]),
        r"transition ket=\(0, 2\) is outside the levels 0\.\.1 x 0\.\.1",
        "ket outside",
    ),
    case(
        lambda: Machine((0, 1), (0, 1), [Transition((-1, 1), (1, 0), 0.1)]),
        r"transition ket=\(-1, 1\) is outside the levels",
        "negative level",
    ),
    case(
        lambda: Machine((0, 1), (0, 1), [Transition((0.5, 1), (1, 0), 0.1)]),
        r"transition ket=\(0\.5, 1\) must be a pair \(a, b\) of integer levels",
        "non-integer level",
    ),
    case(
        lambda: Machine((0, 1), (0, 1), [Transition((0, 1, 0), (1, 0), 0.1)]),
        r"transition ket=\(0, 1, 0\) must be a pair \(a, b\) of integer levels",
        "three indices",
    ),
    case(
        lambda: Machine((0, 1), (0, 1), [Transition((0, 1), (0, 1), 0.1)]),
        r"transition \(0, 1\)<->\(0, 1\) must connect two levels",
        "ket == bra",
    ),
    case(
        lambda: Machine((0, 1), (0, 1), [((0, 1), (1, 0), 0.1)]),
        r"transitions must be Transition objects",
        "not a Transition",
    ),
    case(
        lambda: Machine((0, 1), (0, 1), 5),
        r"transitions=5 must be a sequence",
        "transitions scalar",
    ),
    case(
        lambda: Machine((0, 1), (0, 1), [Transition((0, 1), (1, 0), NAN)]),
        r"coupling=nan of \(0, 1\)<->\(1, 0\) must be a finite number",
        "coupling nan",
    ),
    case(
        lambda: Machine((0, 1), (0, 1), [Transition((0, 1), (1, 0), complex(0, INF))]),
        r"coupling=infj of \(0, 1\)<->\(1, 0\) must be a finite number",
        "coupling inf",
    ),
    case(
        lambda: Machine((0, 1), (0, 1), [Transition((0, 1), (1, 0), "g")]),
        r"coupling='g' of \(0, 1\)<->\(1, 0\) must be a finite number",
        "coupling str",
    ),
    # ----------------------------------------------------------- energies
    case(
        lambda: Machine((0.0, NAN), (0, 1), []),
        r"energies_A=\(0\.0, nan\) must be finite numbers",
        "energies nan",
    ),
    case(
        lambda: Machine((0, 1), (0.0, INF), []),
        r"energies_B=\(0\.0, inf\) must be finite numbers",
        "energies inf",
    ),
    case(
        lambda: Machine((0, "a"), (0, 1), []),
        r"energies_A=\(0, 'a'\) must be a sequence of >= 2 finite numbers",
        "energies str",
    ),
    case(
        lambda: Machine(1.0, (0, 1), []),
        r"energies_A=1\.0 must be a sequence of >= 2 finite numbers",
        "energies scalar",
    ),
    case(
        lambda: Machine((0.0,), (0, 1), []),
        r"energies_A has 1 levels; a local system needs >= 2",
        "one level",
    ),
    case(
        lambda: thermal_populations([0.0, NAN], 1.0),
        r"energies=\[0\.0, nan\] must be a non-empty 1-D sequence of finite numbers",
        "thermal energies nan",
    ),
    case(
        lambda: thermal_state([0.0, INF], 0.0),
        r"energies=\[0\.0, inf\] must be .* finite numbers",
        "thermal_state energies inf",
    ),
    case(
        lambda: thermal_populations([], 1.0),
        r"energies=\[\] must be a non-empty",
        "thermal energies empty",
    ),
    case(
        lambda: bose_einstein(NAN, 1.0),
        r"transition energy E=nan must be finite and > 0",
        "bose E nan",
    ),
    case(
        lambda: bose_einstein(INF, 1.0),
        r"transition energy E=inf must be finite and > 0",
        "bose E inf",
    ),
    case(
        lambda: bose_einstein(0.0, 1.0),
        r"transition energy E=0\.0 must be finite and > 0",
        "bose E=0",
    ),
    case(
        lambda: bose_einstein("1", 1.0),
        r"E='1' must be a real number, finite and > 0",
        "bose E str",
    ),
    case(
        lambda: LindbladModel(Machine((0, 0), (0, 1), []), 1.0, 0.1, 1e-3, 1e-3),
        r"strictly increasing levels on A, got energies_A=\(0\.0, 0\.0\)",
        "lindblad degenerate",
    ),
    # ------------------------------------------------ preset parameters
    case(lambda: qutrit(g=-0.1), r"g=-0\.1 must be finite and >= 0", "qutrit g<0"),
    case(lambda: qutrit(g=NAN), r"g=nan must be finite and >= 0", "qutrit g nan"),
    case(lambda: qutrit(g=INF), r"g=inf must be finite and >= 0", "qutrit g inf"),
    case(lambda: qutrit(g="x"), r"g='x' must be a real number >= 0", "qutrit g str"),
    case(lambda: qutrit(eps=0.0), r"eps=0\.0 must be finite and > 0", "qutrit eps=0"),
    case(lambda: qutrit(eps=NAN), r"eps=nan must be finite and > 0", "qutrit eps nan"),
    case(lambda: qutrit(eps=INF), r"eps=inf must be finite and > 0", "qutrit eps inf"),
    case(
        lambda: qutrit(theta=NAN),
        r"theta=nan must be a finite real number",
        "qutrit theta nan",
    ),
    case(
        lambda: qutrit(theta=INF),
        r"theta=inf must be a finite real number",
        "qutrit theta inf",
    ),
    case(
        lambda: qutrit(theta="pi"),
        r"theta='pi' must be a finite real number",
        "qutrit theta str",
    ),
    case(lambda: qutrit(g3=NAN), r"g3=\(nan\+0j\) must be finite", "qutrit g3 nan"),
    case(lambda: qutrit(g3=INF), r"g3=\(inf\+0j\) must be finite", "qutrit g3 inf"),
    case(
        lambda: qutrit(g3="x"),
        r"g3='x' must be a finite \(complex\) number",
        "qutrit g3 str",
    ),
    case(lambda: qudit(3, g=-1.0), r"g=-1\.0 must be finite and >= 0", "qudit g<0"),
    case(lambda: qudit(3, g=NAN), r"g=nan must be finite and >= 0", "qudit g nan"),
    case(lambda: qudit(3, eps=-1.0), r"eps=-1\.0 must be finite and > 0", "qudit eps"),
    case(lambda: qudit(3, eps=INF), r"eps=inf must be finite and > 0", "qudit eps inf"),
    case(
        lambda: qudit(2, gaps=[1.0, NAN]),
        r"gaps\[1\]=nan must be finite and > 0",
        "qudit gaps nan",
    ),
    case(
        lambda: qudit(2, gaps=[1.0, -1.0]),
        r"gaps\[1\]=-1\.0 must be finite and > 0",
        "qudit gaps<0",
    ),
    case(
        lambda: qudit(3, gaps=[1.0, 2.0]),
        r"gaps has 2 entries; d=3 needs 3",
        "qudit gaps length",
    ),
    case(lambda: qudit(2, gaps=1.0), r"gaps=1\.0 must be a sequence", "qudit gaps"),
    case(
        lambda: qudit(2, couplings=[0.1, NAN]),
        r"couplings\[1\]=\(nan\+0j\) must be finite",
        "qudit couplings nan",
    ),
    case(
        lambda: qudit(3, couplings=[0.1, 0.1]),
        r"couplings has 2 entries; d=3 needs 3",
        "qudit couplings length",
    ),
    case(lambda: qudit(3, g3=INF), r"g3=\(inf\+0j\) must be finite", "qudit g3 inf"),
    case(
        lambda: qudit_energies([1.0, 0.0]),
        r"gaps\[1\]=0\.0 must be finite and > 0",
        "qudit_energies gap 0",
    ),
    case(lambda: one_step(4, g=-1e-3), r"g=-0\.001 must be finite and >= 0", "1s g"),
    case(lambda: one_step(4, g1=NAN), r"g1=nan must be finite and >= 0", "1s g1 nan"),
    case(
        lambda: one_step(3, couplings=[0.1, INF]),
        r"couplings\[1\]=inf must be finite and >= 0",
        "one_step couplings inf",
    ),
    case(
        lambda: one_step(3, couplings=[0.1, -0.1]),
        r"couplings\[1\]=-0\.1 must be finite and >= 0",
        "one_step couplings<0",
    ),
    case(
        lambda: one_step(4, couplings=[0.1]),
        r"couplings has 1 entry; d=4 needs 3",
        "one_step couplings length",
    ),
    case(lambda: qubit_qubit(-0.01), r"g=-0\.01 must be finite and >= 0", "qq g<0"),
    case(lambda: qubit_qubit(NAN), r"g=nan must be finite and >= 0", "qq g nan"),
    case(lambda: qubit_qutrit(g1=-1.0), r"g1=-1\.0 must be finite and >= 0", "qqt g1"),
    case(lambda: qubit_qutrit(g2=INF), r"g2=inf must be finite and >= 0", "qqt g2 inf"),
    case(
        lambda: qubit_qutrit(keep="middle"),
        r"keep='middle' must be 'upper' or 'lower'",
        "qqt keep",
    ),
    # ---------------------------------------------------- Schmidt coefficients
    case(
        lambda: schmidt([0.6, -0.8]),
        r"lambdas=\[0\.6, -0\.8\] must be >= 2 finite numbers >= 0",
        "schmidt negative",
    ),
    case(
        lambda: schmidt([0.6, 0.6]),
        r"lambdas=\[0\.6, 0\.6\] must satisfy sum lambda\^2 = 1, got 0\.72",
        "schmidt not normalised",
    ),
    case(
        lambda: schmidt([0.5, 0.5]),
        r"lambdas=\[0\.5, 0\.5\] must satisfy sum lambda\^2 = 1, got 0\.5",
        "schmidt L1-normalised",
    ),
    case(
        lambda: schmidt([NAN, 0.8]),
        r"lambdas=\[nan, 0\.8\] must be >= 2 finite numbers >= 0",
        "schmidt nan",
    ),
    case(
        lambda: schmidt([1.0]),
        r"lambdas=\[1\.0\] must be >= 2 finite numbers >= 0",
        "schmidt single",
    ),
    case(
        lambda: schmidt([["a", 0.6]]),
        r"lambdas=\[\['a', 0\.6\]\] must be >= 2 finite numbers >= 0",
        "schmidt str",
    ),
    case(
        lambda: schmidt([0.6, 0.8], g=-1e-3),
        r"g=-0\.001 must be finite and >= 0",
        "schmidt g<0",
    ),
    case(
        lambda: schmidt([0.6, 0.8], g=NAN),
        r"g=nan must be finite and >= 0",
        "schmidt g nan",
    ),
    # ------------------------------------------------------------- filters
    case(
        lambda: Filter(np.eye(2), np.ones((2, 3))),
        r"pi_B has shape \(2, 3\); it must be square",
        "filter not square",
    ),
    case(
        lambda: Filter(np.ones(2), np.eye(2)),
        r"pi_A has shape \(2,\); it must be square",
        "filter 1-D",
    ),
    case(
        lambda: Filter(np.ones((2, 2, 2)), np.eye(2)),
        r"pi_A has shape \(2, 2, 2\); it must be square",
        "filter 3-D",
    ),
    case(
        lambda: Filter(0.5 * np.eye(2), np.eye(2)),
        r"pi_A is not a projector, max \|P @ P - P\| = 0\.25; .*P = P\^dag = P @ P",
        "filter not idempotent",
    ),
    case(
        lambda: Filter(np.eye(2), np.diag([1.0, 2.0])),
        r"pi_B is not a projector, max \|P @ P - P\| = 2",
        "filter eigenvalue 2",
    ),
    case(
        lambda: Filter(np.array([[1.0, 1.0], [0.0, 0.0]]), np.eye(2)),
        r"pi_A is not Hermitian, max \|P - P\^dag\| = 1; .*orthogonal projector",
        "filter non-Hermitian idempotent",
    ),
    case(
        lambda: Filter(np.array([[1.0, NAN], [0.0, 0.0]]), np.eye(2)),
        r"pi_A=.*nan.* contains NaN or Inf; .*orthogonal projector",
        "filter nan",
    ),
    case(
        lambda: Filter(np.eye(2), np.diag([INF, 0.0])),
        r"pi_B=.*inf.* contains NaN or Inf",
        "filter inf",
    ),
    case(
        lambda: Filter(np.zeros((2, 2)), np.eye(2)),
        r"pi_A has rank 0; it must keep at least one level \(rank 1\.\.2\)",
        "filter rank 0",
    ),
    case(
        lambda: Filter([["a", 0], [0, 1]], np.eye(2)),
        r"pi_A=.* must be a square numeric matrix",
        "filter str",
    ),
    case(
        lambda: Filter.from_levels(3, 3, [3], [1]),
        r"levels_A=\[3\] must be a non-empty subset of 0\.\.2",
        "levels outside",
    ),
    case(
        lambda: Filter.from_levels(3, 3, [0], []),
        r"levels_B=\[\] must be a non-empty subset of 0\.\.2",
        "levels empty",
    ),
    case(
        lambda: Filter.from_levels(3, 3, [0, 0], [1]),
        r"levels_A=\[0, 0\] has repeated levels",
        "levels repeated",
    ),
    case(
        lambda: Filter.from_levels(3, 3, [0.5], [1]),
        r"levels_A=\[0\.5\] must be integer levels in 0\.\.2",
        "levels non-integer",
    ),
    case(
        lambda: Filter.from_levels(2.5, 3, [0], [1]),
        r"d=2\.5 must be an integer >= 1",
        "from_levels d",
    ),
    case(
        lambda: Machine((0, 1), (0, 1), [], filter=Filter(np.eye(3), np.eye(2))),
        r"filter acts on local dimensions \(3, 2\), the machine has \(2, 2\)",
        "filter of the wrong machine",
    ),
    case(
        lambda: Machine((0, 1), (0, 1), [], filter=np.eye(2)),
        r"filter of type ndarray must be a trajectories.filters.Filter or None",
        "filter not a Filter",
    ),
    # ------------------------------------------------------------- targets
    case(
        lambda: Machine((0, 1), (0, 1), [], target=[1.0, 0.0, 0.0]),
        r"target must be a unit vector of length 4 \(the filtered subspace\), "
        r"got length 3",
        "target length",
    ),
    case(
        lambda: Machine(
            (0, 1, 2),
            (0, 1, 2),
            [],
            filter=Filter.from_levels(3, 3, [0, 1], [1, 2]),
            target=np.ones(9) / 3,
        ),
        r"target must be a unit vector of length 4 .*got length 9",
        "target in the unfiltered space",
    ),
    case(
        lambda: Machine((0, 1), (0, 1), [], target=[1.0, 1.0, 0.0, 0.0]),
        r"target must be a unit vector \(norm 1\), got norm 1\.41421",
        "target not normalised",
    ),
    case(
        lambda: Machine((0, 1), (0, 1), [], target=[NAN, 1.0, 0.0, 0.0]),
        r"target=.*nan.* contains NaN or Inf",
        "target nan",
    ),
    case(
        lambda: measures.fidelity(BELL, [1.0, 0.0, 0.0]),
        r"target of length 3 does not match \(4, 4\)",
        "fidelity target length",
    ),
    case(
        lambda: measures.fidelity(BELL, [1.0, 1.0, 0.0, 0.0]),
        r"target must be a unit vector \(norm 1\), got norm 1\.41421",
        "fidelity target not normalised",
    ),
    case(
        lambda: measures.fidelity(BELL, [NAN, 0.0, 0.0, 0.0]),
        r"target contains NaN or Inf",
        "fidelity target nan",
    ),
    case(
        lambda: measures.fidelity(BELL, np.full((4, 4), INF)),
        r"target contains NaN or Inf",
        "fidelity target matrix inf",
    ),
    case(
        lambda: measures.fidelity(BELL, np.eye(2) / 2),
        r"target shape \(2, 2\) does not match \(4, 4\)",
        "fidelity target matrix shape",
    ),
    # -------------------------------------------------------- measures, rho
    *[
        case(
            lambda f=f, bad=bad: f(np.full((4, 4), bad)),
            r"rho contains NaN or Inf; it must be finite",
            f"{f.__name__} rho {bad}",
        )
        for f in (
            measures.negativity,
            measures.log_negativity,
            measures.partial_transpose,
            measures.chsh_max,
            measures.correlation_matrix,
            measures.concurrence,
            measures.purity,
        )
        for bad in (NAN, INF)
    ],
    case(
        lambda: measures.fidelity(np.full((4, 4), NAN), [1.0, 0.0, 0.0, 0.0]),
        r"rho contains NaN or Inf",
        "fidelity rho nan",
    ),
    case(
        lambda: measures.negativity(np.ones((4, 2))),
        r"rho has shape \(4, 2\); it must be a non-empty square matrix",
        "negativity not square",
    ),
    case(
        lambda: measures.purity(np.ones(4)),
        r"rho has shape \(4,\); it must be a non-empty square matrix",
        "purity vector",
    ),
    case(
        lambda: measures.negativity(np.eye(6) / 6),
        r"rho has shape \(6, 6\), not \(d\^2, d\^2\): pass dims=\(d_A, d_B\)",
        "negativity non-square dimension",
    ),
    case(
        lambda: measures.negativity(np.eye(4) / 4, dims=(2, 3)),
        r"dims=\(2, 3\) must be two integers >= 1 with d_A d_B = 4",
        "negativity dims mismatch",
    ),
    case(
        lambda: measures.log_negativity(np.eye(4) / 4, dims=(-2, -2)),
        r"dims=\(-2, -2\) must be two integers >= 1",
        "log_negativity negative dims",
    ),
    case(
        lambda: measures.chsh_max(np.eye(9) / 9),
        r"correlation_matrix needs a two-qubit state \(4, 4\), got \(9, 9\)",
        "chsh qutrits",
    ),
    case(
        lambda: measures.concurrence(np.eye(9) / 9),
        r"concurrence needs a two-qubit state \(4, 4\), got \(9, 9\)",
        "concurrence qutrits",
    ),
    # ---------------------------------------------------------------- herald
    case(
        lambda: herald(np.eye(4) / 4, QUTRIT.filter),
        r"rho has shape \(4, 4\); the filter needs \(9, 9\)",
        "herald shape",
    ),
    case(
        lambda: herald(np.ones(9) / 9, QUTRIT.filter),
        r"rho has shape \(9,\); the filter needs \(9, 9\)",
        "herald vector",
    ),
    case(
        lambda: herald(np.diag(np.eye(9)[0]), QUTRIT.filter),
        r"p_suc = 0",
        "herald never succeeds",
    ),
    # ------------------------------------------------------------- models
    case(
        lambda: ResetModel("qutrit", 1e-3, 1e-2),
        r"machine='qutrit' must be a trajectories.machines.Machine",
        "reset machine str",
    ),
    case(
        lambda: LindbladModel(None, 1.0, 0.1, 1e-3, 1e-3),
        r"machine=None must be a trajectories.machines.Machine",
        "lindblad machine None",
    ),
]


@pytest.mark.parametrize(("func", "match"), CASES)
def test_bad_input_raises_value_error(func: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        func()


@pytest.mark.parametrize("bad", [NAN, INF])
def test_herald_rejects_non_finite_rho(bad: float) -> None:
    rho = np.eye(9, dtype=complex) / 9
    rho[0, 1] = rho[1, 0] = bad
    with (
        pytest.raises(ValueError, match=r"rho .*NaN or Inf"),
        np.errstate(invalid="ignore"),
    ):
        herald(rho, QUTRIT.filter)


# ------------------------------------------------- the allowed edge cases pass


@pytest.mark.parametrize("T", ["-0", "-0.0", " Inverted ", -0.0])
def test_population_inversion_is_the_only_negative_temperature(T: object) -> None:
    assert math.copysign(1.0, parse_temperature(T)) < 0
    assert reset(T_A=T).T_A == 0.0
    assert lindblad(T_B=T).T_B == 0.0


@pytest.mark.parametrize(
    ("T", "expected"),
    [(0, 0.0), (np.int64(2), 2.0), (np.float32(0.5), 0.5), ("inf", INF), ("1e3", 1e3)],
)
def test_valid_temperatures_are_accepted(T: object, expected: float) -> None:
    assert parse_temperature(T) == expected
    assert math.copysign(1.0, parse_temperature(T)) > 0


def test_zero_rates_and_numpy_scalars_are_accepted() -> None:
    m = reset(p_A=np.int64(0), p_B=np.float64(1e-2))
    assert (m.p_A, m.p_B) == (0.0, 0.01)
    model = lindblad(Gamma_A={(0, 1): 1e-3, (1, 2): 0.0}, dephasing=0)
    assert model.Gamma_A == {(0, 1): 1e-3, (0, 2): 0.0, (1, 2): 0.0}


def test_resonant_and_uncoupled_transitions_are_accepted() -> None:
    Machine((0.0, 1.0), (0.0, 1.0), RESONANT)
    # an off-resonant pair with zero coupling adds nothing to H_int
    Machine((0.0, 1.0), (0.0, 2.0), [Transition((0, 1), (1, 0), 0.0)])
    Machine((0, 1), (0, 1), [], target=np.array([0, 1, 1j, 0]) / math.sqrt(2))


def _exactly(message: str) -> str:
    return "^" + re.escape(message) + "$"


def test_messages_name_the_parameter_value_and_range() -> None:
    """Spot check of the full message text for the most common mistakes."""
    with pytest.raises(
        ValueError, match=_exactly("p_A=-0.5 must be a finite rate >= 0")
    ):
        reset(p_A=-0.5)
    message = (
        "T_B=-3.0 is negative: valid temperatures are 0 <= T <= inf, or '-0' for "
        "population inversion (T -> 0^-)"
    )
    with pytest.raises(ValueError, match=_exactly(message)):
        reset(T_B=-3.0)
    with pytest.raises(ValueError, match=_exactly("d=1 must be an integer >= 2")):
        qudit(1)
