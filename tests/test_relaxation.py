"""Runs that start away from the steady state: the relaxation time, the named starts,
and the run's own estimate of the steady state against the exact one.

Measured false-alarm rate: 4.7e-4 per change of random stream (95% upper bound
0.029; 45 seeds, `python examples/seed_scan.py --checks 'relaxation:*' --seeds 45
--first-seed 2000000`; no failure), the sum over its 2 stochastic checks. Before
the elements were restricted to n |exact| >= 200 (``SNAPSHOT_COUNT``), the
steady-state check failed a correct engine at 4 of 55 seeds.

Stochastic checks (``STOCHASTIC_CHECKS``, at the level of their thresholds per z,
``Outcome.per_test``): the steady state sampled by the command line with 12000
machines, every |z| of its 16 elements of n |exact| >= 200 (both estimators) and of
its two p_suc estimates below 4.5; a short burn-in, the first-attempt p_suc and
mean K each below 4.5. With 18 correlated normal z values, P(some |z| > 4.5) <= 18
x 6.8e-6 = 1.2e-4 per change of random stream (Bonferroni); the two scalar z of the
short burn-in add 1.4e-5. Negative control: after a burn-in of 1/5 relaxation time
the sampled state is still far from the steady state, and the largest |z| of its
elements of n |exact| >= 200 must exceed 4.5 (it is ~20).
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from calibration import P_MIN, Bound, Outcome

from trajectories import LindbladModel, ResetModel, qutrit
from trajectories.exact.relaxation import liouvillian_gap, relaxation_time
from trajectories.exact.starts import start_state
from trajectories.exact.states import evolve, herald, steady_state
from trajectories.pipeline.cli import main
from trajectories.system.states import ground_start, thermal_start

SMALL = [
    "--quiet",
    "--no-report",
    "--set",
    "sampling.n_traj=4000",
    "--set",
    "sampling.batch_size=1000",
    "--set",
    "protocol.attempts=3",
    "--set",
    'sampling.initial="thermal"',
]


def models() -> list:
    return [
        ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01, T_A="inf", T_B=0.0),
        LindbladModel(qutrit(g=1.6e-3, eps=3.0), 6.0, 0.3, 1e-4, 5e-3, 3.5e-5),
    ]


@pytest.mark.parametrize("model", models(), ids=["reset", "lindblad"])
def test_gap_is_the_late_decay_rate(model) -> None:
    """||rho(t) - rho_ss|| decays as exp(-gap t) at late times from the ground state
    (which excites the slowest mode: A's populations relax at p_A; a thermal start
    at T_A = inf has no component along it): the ratio over one relaxation time is
    e^-1."""
    tau = relaxation_time(model)
    rho_ss = steady_state(model)
    t = np.array([6.0, 7.0]) * tau
    rho = evolve(model, ground_start(model), t)
    dev = [np.abs(r - rho_ss).max() for r in rho]
    assert dev[1] / dev[0] == pytest.approx(np.exp(-1.0), rel=0.05)
    assert liouvillian_gap(model) == pytest.approx(1 / tau)


def test_default_machine_relaxes_at_the_rate_of_a() -> None:
    assert liouvillian_gap(models()[0]) == pytest.approx(0.002, rel=1e-9)


def test_named_starts() -> None:
    model = models()[0]
    tau = np.kron(model.tau_A, model.tau_B)
    np.testing.assert_allclose(np.diag(thermal_start(model)).real, tau, atol=0)
    ground = ground_start(model)
    assert ground[0, 0] == 1
    assert np.trace(ground) == 1
    np.testing.assert_array_equal(start_state(model, "ground"), ground)
    with pytest.raises(ValueError, match="initial='hot' must be one of"):
        start_state(model, "hot")


def run(out: Path, seed: int, *settings: str) -> dict:
    """The command line on the small run (``SMALL``) with extra ``--set``
    settings, in one process (the records do not depend on ``--jobs``,
    tests/test_cli.py); the summary row."""
    extra = [x for setting in settings for x in ("--set", setting)]
    args = [*SMALL, *extra, "--out", str(out), "--jobs", "1", "--seed", str(seed)]
    assert main(args) == 0
    return json.loads((out / "summary.json").read_text())[0]


SNAPSHOT_COUNT = 200
"""Smallest n |exact| of a compared element of the sampled steady state (n
machines; tests/README.md). A sampled population is a mean of nearly 0/1 values,
whose studentized z has a heavy lower tail: the three populations of exact value
1.4e-3 (n |exact| = 5.7 at 4000 machines) gave z = -4.68 (one machine where 5.7
are expected) at 4 of 55 seeds. The time average runs over one attempt period (200,
less than the relaxation time 500) and is no smoother: over 80 seeds, 9 of its 320
z values of those populations exceeded 3 in size, and 6 of 319 of the ensemble
(normal: 0.9)."""

STEADY_N_TRAJ = "sampling.n_traj=12000"
"""Machines of the steady-state check: every element of n |exact| >= 200 but the
three rare populations (16 of the 24 the run compares)."""


def compared_z(row: dict) -> list[float]:
    """z of the elements of the sampled steady state with n |exact| >=
    ``SNAPSHOT_COUNT`` (NaN where the run gives none)."""
    n = row["n_traj"]
    return [
        math.nan if e["z"] is None else e["z"]
        for e in row["steady_state_elements"]
        if n * abs(e["exact"]) >= SNAPSHOT_COUNT
    ]


def steady_state_outcome(row: dict) -> Outcome:
    """The compared elements of the sampled steady state and both stationary
    p_suc estimates, each |z| below 4.5; at least 16 elements resolved by the run
    (effective sample size of their populations >= 100) and 16 compared."""
    z = compared_z(row)
    keys = ("steady_ens_p_suc", "steady_avg_p_suc")
    return Outcome.of(
        [z, [row[f"{key}_z"] for key in keys]],
        bounds=[
            Bound("resolved elements", row["steady_state_n_elements"], low=16),
            Bound("compared elements", len(z), low=16),
        ],
        flags=[(f"{key} resolved", row[f"{key}_resolved"]) for key in keys],
        label="sampled steady state",
    ).per_test(P_MIN)


def check_steady_state(seed: int = 3) -> Outcome:
    """The run from a thermal start (burn-in 10 relaxation times) with 12000
    machines."""
    with tempfile.TemporaryDirectory() as tmp:
        return steady_state_outcome(run(Path(tmp) / "run", seed, STEADY_N_TRAJ))


SHORT_BURN_IN = "sampling.burn_in=100.0"
DEFAULT_SEED = 20261124
"""The default seed of the presets (sampling.seed)."""


def short_burn_in_outcome(row: dict) -> Outcome:
    """First-attempt p_suc and mean K against their exact values for the evolved
    start, each |z| below 4.5; negative control: the sampled state at the end of
    the burn-in against the steady state, largest |z| above 4.5."""
    return Outcome.of(
        [row["p_suc_z"], row["mean_attempts_z"]],
        bounds=[
            Bound(
                "negative control: steady-state max|z|",
                float(np.nanmax(np.abs(compared_z(row)))),
                low=4.5,
            )
        ],
        label="short burn-in",
    ).per_test(P_MIN)


def check_short_burn_in(seed: int = DEFAULT_SEED) -> Outcome:
    """The small run with a burn-in of 1/5 relaxation time."""
    with tempfile.TemporaryDirectory() as tmp:
        return short_burn_in_outcome(run(Path(tmp) / "run", seed, SHORT_BURN_IN))


STOCHASTIC_CHECKS = {
    "steady-state": check_steady_state,
    "short-burn-in": check_short_burn_in,
}
"""Every stochastic check of this module as a function of the seed."""


@pytest.fixture(scope="module")
def relaxed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("relax") / "run"
    run(out, 3, STEADY_N_TRAJ)
    return out


def test_sampled_steady_state_matches_the_exact_one(relaxed: Path) -> None:
    row = json.loads((relaxed / "summary.json").read_text())[0]
    assert row["initial"] == "thermal"
    assert row["burn_in"] == pytest.approx(5000.0)
    assert row["relaxation_time"] == pytest.approx(500.0)
    steady_state_outcome(row).check()
    elements = pd.read_csv(relaxed / "steady_state.csv")
    assert set(elements["estimator"]) == {"ensemble", "average"}
    assert len(elements) == len(row["steady_state_elements"])
    summary = pd.read_csv(relaxed / "summary.csv")
    assert "steady_state_max_abs_z" in summary.columns


def test_short_burn_in_is_compared_with_the_evolved_state(tmp_path: Path) -> None:
    """Burn-in 100 (1/5 relaxation time): the first attempt sees e^{L(b+T)} tau_A
    (x) tau_B, not the steady state; the summary's exact values follow it (and the
    estimates agree with them), while the sampled state at the end of the burn-in
    is far from the steady state (negative control of steady_state_max_abs_z)."""
    row = run(tmp_path / "run", DEFAULT_SEED, SHORT_BURN_IN)
    model = models()[0]
    first = evolve(model, thermal_start(model), [100.0 + 200.0])[0]
    exact = herald(first, model.machine.filter).p_suc
    assert row["p_suc_exact"] == pytest.approx(exact, rel=1e-9)
    assert abs(row["p_suc_exact"] - 0.0483091787) > 0.005
    short_burn_in_outcome(row).check()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('sampling.initial="hot"', "sampling.initial='hot' must be one of"),
        ("sampling.burn_in=-1.0", "sampling.burn_in=-1.0 is out of range"),
    ],
)
def test_bad_start_settings_exit_2(tmp_path: Path, capsys, setting, message) -> None:
    code = main(["--quiet", "--set", setting, "--out", str(tmp_path / "r")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_time_averages_end_where_asked() -> None:
    from trajectories.engine.schedule import Schedule

    s = Schedule.build(100.0, [], 10.0, 2, [30.0, 60.0], average_end=30.0)
    assert s.window_length == pytest.approx(10.0)
    assert 20.0 in s.checkpoints
    with pytest.raises(ValueError, match=r"average_end=5\.0 must be in"):
        Schedule.build(100.0, [], 10.0, 1, average_end=5.0)


@pytest.mark.slow
def test_relaxation_preset_output_is_in_the_readme(tmp_path: Path) -> None:
    from test_records_checksum import assert_readme_shows

    out = tmp_path / "run"
    assert main(["relaxation", "--out", str(out), "--quiet", "--no-report"]) == 0
    row = json.loads((out / "summary.json").read_text())[0]
    assert row["steady_state_max_abs_z"] < 4.5
    assert_readme_shows(out)
