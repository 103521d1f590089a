"""Heralding on trajectories against the exact filter statistics (fixed seeds).

Measured false-alarm rate: 7.5e-4 per change of random stream (95% upper bound
0.15; 45 seeds, `python examples/seed_scan.py --checks 'heralding:*' --seeds 45
--first-seed 2000000`), the sum over its 12 stochastic checks; no failure.

Tolerances come from the estimators' own standard errors, each estimate paired with
its exact value: p_suc (Born: sample SE; sampled: binomial SE of the exact p, a
score test), rho' element by element and its measures (grouped jackknife over 50
groups: Student t with 49 degrees of freedom), each measure resolved before its z
is compared, with max|z| below the Bonferroni-aware threshold of
``tests/calibration.py`` (level 6.8e-6 per check). Elements of rho' are compared
where ~200 successes or more carry them. The former check that value ± 1.96 SE
contains the value could not fail; the exact column of the measures is now checked
against the measures of the exact rho'. A negative control (hot and cold swapped)
must fail.
"""

from __future__ import annotations

import math
from functools import lru_cache, partial

import numpy as np
import pytest
from calibration import Z_MAX, Bound, Outcome

from trajectories.heralding.measures import reported_measures
from trajectories.heralding.protocol import run_heralding
from trajectories.system.machines import qudit, qutrit
from trajectories.system.models import LindbladModel, OpenSystem, ResetModel
from trajectories.validation import heralding as validate

JACKKNIFE_GROUPS = 50
MIN_COUNT = 200
"""Smallest n p_suc |exact| of an element of rho' compared with its exact value: the
element is then carried by ~200 successes or more, where its z is close to its
reference law (a mean of nearly 0/1 values has a heavy lower tail below)."""

MODELS = {
    "qutrit": lambda: ResetModel(qutrit(g=0.01, theta=0.3), 0.002, 0.01),
    "qudit-3": lambda: ResetModel(qudit(3, g=0.01), 0.002, 0.01),
    "qudit-4": lambda: ResetModel(qudit(4, g=0.01), 0.003, 0.01),
    "lindblad-fig5b": lambda: LindbladModel(
        qutrit(g=1.6e-3, eps=3.0), 6.0, 0.3, 1e-4, 5e-3, dephasing=3.5e-5
    ),
}


def _run(model: OpenSystem, n_traj: int = 20000, seed: int = 1, **kw):
    kw = {"attempt_period": 50.0, "n_attempts": 1} | kw
    return run_heralding(model, n_traj=n_traj, rng=np.random.default_rng(seed), **kw)


N_TRAJ = {"qutrit": 20000, "qudit-3": 20000, "qudit-4": 40000, "lindblad-fig5b": 80000}
"""Machines per run: enough successes (n p_suc >= ~800) that the largest elements
of rho' reach ``MIN_COUNT``."""


@lru_cache(maxsize=len(MODELS))
def first_attempts(name: str, seed: int = 1):
    """The run shared by the checks of one model and seed."""
    return _run(MODELS[name](), n_traj=N_TRAJ[name], seed=seed)


# ------------------------------------------------------------ stochastic checks


def check_p_suc(name: str, seed: int = 1) -> Outcome:
    """p_suc of the first attempt, sampled and Born, against the exact value. The
    sampled frequency is compared through the binomial SE of the exact p (a score
    test: the sample SE of a frequency of ~300 successes gives a heavy lower tail),
    and its reported SE against that SE; the Born SE is not above the sampled one
    (no outcome noise: Var(p_i) <= Var(flag))."""
    table = validate.p_suc(first_attempts(name, seed)).set_index("estimator")
    born, sampled = table.loc["born"], table.loc["sampled"]
    p, n = sampled["exact"], sampled["n"]
    binomial_se = math.sqrt(p * (1 - p) / n)
    return Outcome.of(
        [born["z"], (sampled["value"] - p) / binomial_se],
        bounds=[
            Bound("born SE / sampled SE", born["se"] / sampled["se"], high=1.05),
            Bound("sampled SE / binomial SE", sampled["se"] / binomial_se, 0.8, 1.2),
        ],
        flags=[(f"{e} resolved", table.loc[e, "resolved"]) for e in table.index],
        label=f"p_suc {name}",
    )


def check_post_selected(name: str, estimator: str, seed: int = 1) -> Outcome:
    """rho' element by element (jackknife SEs over 50 groups: Student t with 49
    degrees of freedom) and its measures against the exact rho'; every measure is
    resolved and its exact column is the measure of the exact rho'."""
    run = first_attempts(name, seed)
    rho, se = run.post_selected(estimator)
    exact = validate.first_attempt_reference(run).rho_post
    zs, flags = [], []
    for part in ("real", "imag"):
        e, s, x = (getattr(a, part) for a in (rho, se, exact))
        mask = np.abs(x) > MIN_COUNT / (
            run.n_traj * validate.first_attempt_reference(run).p_suc
        )
        if part == "real":
            flags.append(("some real part resolved", mask.any()))
        zs.append(((e[mask] - x[mask]) / s[mask], JACKKNIFE_GROUPS - 1))
    q = validate.quality(run, estimator, n_groups=JACKKNIFE_GROUPS).set_index(
        "quantity"
    )
    want = reported_measures(run.model.machine, exact)
    flags.append(("negativity, purity, fidelity", {*want} <= set(q.index)))
    flags += [(f"{k} resolved", q.loc[k, "resolved"]) for k in q.index]
    flags += [
        (f"{k} exact = measure of exact rho'", q.loc[k, "exact"] == pytest.approx(v))
        for k, v in want.items()
    ]
    zs.append((q["z"].to_numpy(), JACKKNIFE_GROUPS - 1))
    return Outcome.of(t=zs, flags=flags, label=f"rho' {name} ({estimator})")


STOCHASTIC_CHECKS = {
    **{f"p_suc[{n}]": partial(check_p_suc, n) for n in sorted(MODELS)},
    **{
        f"post_selected[{e}-{n}]": partial(check_post_selected, n, e)
        for n in sorted(MODELS)
        for e in ("born", "sampled")
    },
}
"""Every stochastic check of this module as a function of the seed."""


# ------------------------------------------------------------------------ tests


@pytest.mark.parametrize("name", sorted(MODELS))
def test_p_suc_both_estimators(name: str) -> None:
    check_p_suc(name).check()


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("estimator", ["born", "sampled"])
def test_post_selected_state_and_measures(name: str, estimator: str) -> None:
    check_post_selected(name, estimator).check()


def test_two_qubit_measures_only_for_qubit_filters() -> None:
    assert "chsh" in set(
        validate.quality(_run(MODELS["qutrit"](), n_traj=200))["quantity"]
    )
    assert "chsh" not in set(
        validate.quality(_run(MODELS["qudit-3"](), n_traj=200))["quantity"]
    )


def test_negative_control_wrong_model_is_rejected() -> None:
    """Hot and cold swapped: the same estimates against the right exact values fail."""
    right = MODELS["qutrit"]()
    wrong = ResetModel(right.machine, right.p_A, right.p_B, right.T_B, right.T_A)
    run = _run(wrong)
    exact = validate.first_attempt_reference(_run(right, n_traj=2)).p_suc
    table = validate.p_suc(run)
    z = (table["value"] - exact) / table["se"]
    assert (z.abs() > 10 * Z_MAX).all()


def test_tables_are_tidy_and_consistent() -> None:
    run = _run(
        MODELS["qutrit"](), n_traj=400, attempt_period=100.0, n_attempts=8, n_machines=4
    )
    att = run.attempts_table()
    assert len(att) == 400 * 8
    assert list(att.columns) == [
        "trajectory",
        "machine",
        "bank",
        "attempt",
        "time",
        "outcome_A",
        "outcome_B",
        "success",
        "born_p_suc",
        "k",
    ]
    assert (
        att["success"] == ((att["outcome_A"] == "pass") & (att["outcome_B"] == "pass"))
    ).all()
    pairs = run.pairs_table()
    assert len(pairs) == int(att["success"].sum())
    assert (pairs["wait"] == pairs["k"] * 100.0).all()
    assert np.allclose(pairs["fidelity"].between(0, 1 + 1e-12), True)
    # k restarts at 1 after each success
    nxt = att.groupby("trajectory")["k"].shift(-1)
    after = att["success"] & nxt.notna()
    assert (nxt[after] == 1).all()
    assert (
        att.loc[~att["success"] & nxt.notna(), "k"] + 1
        == nxt[~att["success"] & nxt.notna()]
    ).all()


def test_reproducible_and_independent_of_chunking_seed() -> None:
    model = MODELS["qutrit"]()
    kw = {"attempt_period": 100.0, "n_attempts": 5, "chunk_size": 64}
    a = _run(model, n_traj=256, seed=3, **kw)
    b = _run(model, n_traj=256, seed=3, **kw)
    c = _run(model, n_traj=256, seed=4, **kw)
    assert a.attempts_table().equals(b.attempts_table())
    assert not a.attempts_table().equals(c.attempts_table())


@pytest.mark.parametrize(
    "bad",
    [
        {"attempt_period": 0.0},
        {"attempt_period": np.inf},
        {"n_attempts": 0},
        {"n_machines": 0},
        {"n_machines": 3},
        {"restart": "hot"},
    ],
)
def test_bad_protocol_arguments(bad: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        _run(MODELS["qutrit"](), n_traj=10, **bad)
