"""Runs that start away from the steady state: the relaxation time, the named starts,
and the run's own estimate of the steady state against the exact one.

Stochastic checks: the largest |z| over the ~24 compared elements of the sampled
steady state (both estimators), and the first-attempt p_suc and mean K, each below
4.5 with fixed seeds. With 24 correlated normal z values, P(max |z| > 4.5) <= 24 x
6.8e-6 = 1.6e-4 per change of random stream (Bonferroni); the four scalar z add
2.7e-5. Negative control: after a burn-in of 1/5 relaxation time the sampled state
is still far from the steady state, and the same statistic must exceed 4.5.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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


@pytest.fixture(scope="module")
def relaxed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("relax") / "run"
    assert main([*SMALL, "--out", str(out), "--seed", "3"]) == 0
    return out


def test_sampled_steady_state_matches_the_exact_one(relaxed: Path) -> None:
    row = json.loads((relaxed / "summary.json").read_text())[0]
    assert row["initial"] == "thermal"
    assert row["burn_in"] == pytest.approx(5000.0)
    assert row["relaxation_time"] == pytest.approx(500.0)
    assert row["steady_state_n_elements"] >= 20
    assert row["steady_state_max_abs_z"] < 4.5
    for key in ("steady_ens_p_suc", "steady_avg_p_suc"):
        assert row[f"{key}_resolved"]
        assert abs(row[f"{key}_z"]) < 4.5
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
    out = tmp_path / "run"
    args = [*SMALL, "--set", "sampling.burn_in=100.0", "--out", str(out)]
    assert main(args) == 0
    row = json.loads((out / "summary.json").read_text())[0]
    model = models()[0]
    first = evolve(model, thermal_start(model), [100.0 + 200.0])[0]
    exact = herald(first, model.machine.filter).p_suc
    assert row["p_suc_exact"] == pytest.approx(exact, rel=1e-9)
    assert abs(row["p_suc_exact"] - 0.0483091787) > 0.005
    assert abs(row["p_suc_z"]) < 4.5
    assert abs(row["mean_attempts_z"]) < 4.5
    assert row["steady_state_max_abs_z"] > 4.5


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
