"""The jump engine against the exact references (fixed seeds, SE-based tolerances).

Every estimate is compared with its exact value through z = (est - exact)/se, with
|z| < 4.5 per check (a few dozen checks per model: the chance that a correct engine
fails one is below 1e-3) and, where a vector of z values is available, a chi-square
test at p > 1e-3. Only matrix elements on the support of the exact state are compared
(the others are zero in every trajectory, up to rounding).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.estimators import chi_square_p_value
from trajectories.engine.unravelling import Unravelling
from trajectories.exact.states import evolve, herald, steady_state
from trajectories.simulation import simulate
from trajectories.system.machines import qubit_qubit, qubit_qutrit, qudit, qutrit
from trajectories.system.models import LindbladModel, OpenSystem, ResetModel

Z_MAX = 4.5
P_MIN = 1e-3


def exact_jump_rates(model: OpenSystem, rho: np.ndarray) -> np.ndarray:
    """Tr[L_k rho L_k^dag] for every channel of the model."""
    unr = Unravelling.from_model(model)
    d_A, d_B = model.machine.dims
    pops = np.diag(rho).real.reshape(d_A, d_B)
    local = (pops.sum(axis=1), pops.sum(axis=0))
    ch = unr.channels
    return np.array(
        [r * local[b][j] for b, j, r in zip(ch.bath, ch.frm, ch.rate, strict=True)]
    )


def density_z(
    est: np.ndarray, se: np.ndarray, exact: np.ndarray, floor: float = 1e-12
) -> np.ndarray:
    """z values of the real and imaginary parts of the elements with |exact| > floor.

    An ensemble average over n trajectories resolves an element only if n |exact| is
    well above 1 (rarer states are mostly never visited and their sample SE is
    meaningless): pass floor = 50 / n there.
    """
    z = []
    upper = np.triu(np.ones(exact.shape, dtype=bool))  # rho_ji = conj(rho_ij)
    for part in ("real", "imag"):
        e, s, x = (getattr(a, part) for a in (est, se, exact))
        mask = (np.abs(x) > floor) & upper
        z.append((e[mask] - x[mask]) / s[mask])
    return np.concatenate(z)


def check_z(z: np.ndarray, label: str) -> None:
    z = np.asarray(z, dtype=float)
    assert np.all(np.isfinite(z)), f"{label}: non-finite z {z}"
    worst = np.abs(z).max()
    p = chi_square_p_value(z)
    message = f"{label}: max|z|={worst:.2f}, chi2 p={p:.2g}"
    assert worst < Z_MAX, message
    assert p > P_MIN, message


RESET_MODELS = {
    "qutrit-gradient": lambda: ResetModel(qutrit(g=0.01, theta=0.3), 0.002, 0.01),
    "qutrit-finite-1": lambda: ResetModel(
        qutrit(g=0.01, eps=1.5), 0.003, 0.01, 2.0, 0.1
    ),
    "qutrit-finite-2": lambda: ResetModel(
        qutrit(g=0.02, eps=0.5), 0.003, 0.01, 5.0, 0.2
    ),
    "qudit-3": lambda: ResetModel(qudit(3, g=0.01), 0.002, 0.01),
    "qudit-4": lambda: ResetModel(qudit(4, g=0.01), 0.002, 0.01),
}

LINDBLAD_MODELS = {
    "fig5b": lambda: LindbladModel(qutrit(g=1.6e-3, eps=3.0), 3.0, 0.2, 1e-4, 5e-3),
    "fig5b-dephasing": lambda: LindbladModel(
        qutrit(g=1.6e-3, eps=3.0), 3.0, 0.2, 1e-4, 5e-3, dephasing=5e-4
    ),
    "high-temperature": lambda: LindbladModel(
        qutrit(g=0.02, eps=1.5), 20.0, 5.0, 0.01, 0.02, dephasing=1e-3
    ),
}


def _stationary_checks(model: OpenSystem, n_traj: int, t_max: float, seed: int) -> None:
    rho = steady_state(model)
    ens = simulate(
        model,
        n_traj=n_traj,
        rng=np.random.default_rng(seed),
        t_max=t_max,
        sample_times=[t_max / 2, t_max],
        n_windows=4,
    )
    for i in (0, 1):
        check_z(density_z(*ens.density(i), rho, 50 / n_traj), f"ensemble rho at {i}")
    # a time average visits each state many times per trajectory: it resolves elements
    # ten times smaller (every element of the reset machines' support)
    check_z(density_z(*ens.time_average_density(), rho, 5 / n_traj), "time-average rho")
    p_exact = herald(rho, model.machine.filter).p_suc
    mean, se = ens.observable("p_suc")
    est = ens.time_average("p_suc")
    check_z([*(mean - p_exact) / se, est.z(p_exact)], "p_suc")
    rates, rates_se = ens.jump_rates()
    exact = exact_jump_rates(model, rho)
    seen = exact * t_max * n_traj > 30  # channels with enough jumps for a normal law
    assert seen.sum() >= 2
    check_z((rates[seen] - exact[seen]) / rates_se[seen], "jump rates")
    assert np.all(ens.sums.counts[:, exact == 0] == 0)


@pytest.mark.parametrize("name", sorted(RESET_MODELS))
def test_reset_model_stationary_estimates(name: str) -> None:
    _stationary_checks(RESET_MODELS[name](), n_traj=3000, t_max=5000.0, seed=11)


@pytest.mark.parametrize("name", sorted(LINDBLAD_MODELS))
def test_lindblad_model_stationary_estimates(name: str) -> None:
    model = LINDBLAD_MODELS[name]()
    t_max = 3000.0 if name != "high-temperature" else 300.0
    _stationary_checks(model, n_traj=1500, t_max=t_max, seed=12)


def test_lindblad_model_at_an_exceptional_point() -> None:
    """Qubit-qutrit machine at g1 = g2 = |Gamma_A - Gamma_B|/4, T_B = 0, no dephasing:
    both 2 x 2 blocks of H_eff are defective (the decay rates of |0,1>, |1,0> and of
    |0,2>, |1,1> differ by Gamma_B - Gamma_A at any T_A), so the coupled block is
    propagated exactly without eigenvectors; a hot A gives a non-trivial steady state.
    """
    g = abs(0.01 - 0.05) / 4
    model = LindbladModel(qubit_qutrit(g, g), 2.0, 0.0, 0.01, 0.05)
    assert Unravelling.from_model(model).exact_block is not None
    _stationary_checks(model, n_traj=1500, t_max=1500.0, seed=13)


@pytest.mark.parametrize(
    ("model", "times"),
    [
        (RESET_MODELS["qutrit-finite-1"](), [50.0, 200.0, 800.0]),
        (LINDBLAD_MODELS["fig5b-dephasing"](), [100.0, 500.0, 2000.0]),
    ],
    ids=["reset", "lindblad"],
)
def test_relaxation_matches_exact_evolution(model: OpenSystem, times: list) -> None:
    D = model.machine.dim
    rho0 = np.zeros((D, D), complex)
    k = model.machine.index(2, 0)
    rho0[k, k] = 1.0
    exact = evolve(model, rho0, times)
    ens = simulate(
        model,
        n_traj=3000,
        rng=np.random.default_rng(5),
        t_max=times[-1],
        sample_times=times,
        initial=rho0,
    )
    z = [density_z(*ens.density(i), exact[i], 50 / 3000) for i in range(len(times))]
    check_z(np.concatenate(z), "rho(t) against e^{Lt} rho0")


def test_thermal_start_relaxes_to_steady_state() -> None:
    model = RESET_MODELS["qutrit-gradient"]()
    rho_t = evolve(model, np.diag(np.kron(model.tau_A, model.tau_B)), [300.0])[0]
    ens = simulate(
        model,
        n_traj=3000,
        rng=np.random.default_rng(8),
        t_max=300.0,
        sample_times=[300.0],
        initial="thermal",
    )
    check_z(density_z(*ens.density(0), rho_t, 50 / 3000), "thermal start")


def test_negative_control_swapped_baths_fails() -> None:
    """The same checks on the machine with hot and cold swapped must reject it."""
    right = ResetModel(qutrit(g=0.01, eps=1.5), 0.003, 0.01, 2.0, 0.1)
    wrong = ResetModel(right.machine, 0.003, 0.01, right.T_B, right.T_A)
    rho = steady_state(right)
    ens = simulate(
        wrong,
        n_traj=3000,
        rng=np.random.default_rng(11),
        t_max=1500.0,
        sample_times=[1500.0],
        initial=rho,
    )
    z = density_z(*ens.density(0), rho, 50 / 3000)
    assert np.abs(z).max() > 10 * Z_MAX
    with pytest.raises(AssertionError):
        check_z(z, "swapped baths")


def test_estimators_agree_and_autocorrelation_time_is_sane() -> None:
    model = RESET_MODELS["qutrit-gradient"]()
    ens = simulate(
        model,
        n_traj=2000,
        rng=np.random.default_rng(3),
        t_max=3000.0,
        sample_times=[1000.0, 2000.0, 3000.0],
        n_windows=6,
    )
    tau = ens.autocorrelation_time("p_suc")
    # relaxation time of the slowest mode ~ 1/(p_A + ...) < 1/p_A = 500
    assert 1.0 < tau < 500.0
    est = ens.time_average("p_suc")
    _, se = ens.observable("p_suc")
    # the time average over T is worth ~T/(2 tau) samples: its SE is smaller
    assert est.se < se.min()


def test_reproducible_bit_for_bit() -> None:
    model = RESET_MODELS["qutrit-finite-1"]()
    kw = {
        "n_traj": 300,
        "t_max": 500.0,
        "sample_times": [500.0],
        "n_windows": 2,
        "record_jumps": True,
        "chunk_size": 128,
    }
    a = simulate(model, rng=np.random.default_rng(42), **kw)
    b = simulate(model, rng=np.random.default_rng(42), **kw)
    c = simulate(model, rng=np.random.default_rng(43), **kw)
    np.testing.assert_array_equal(a.sums.counts, b.sums.counts)
    np.testing.assert_array_equal(a.density(0)[0], b.density(0)[0])
    np.testing.assert_array_equal(
        a.time_average_density()[0], b.time_average_density()[0]
    )
    assert a.jumps().equals(b.jumps())
    assert not np.array_equal(a.sums.counts, c.sums.counts)


def test_jump_table_is_tidy_and_consistent_with_counts() -> None:
    model = RESET_MODELS["qutrit-gradient"]()
    ens = simulate(
        model,
        n_traj=50,
        rng=np.random.default_rng(1),
        t_max=400.0,
        record_jumps=True,
        chunk_size=16,
    )
    df = ens.jumps()
    assert list(df.columns) == ["trajectory", "time", "channel"]
    assert df["time"].between(0, 400.0).all()
    assert (df.groupby("trajectory")["time"].diff().dropna() > 0).all()
    counts = df.groupby(["trajectory", "channel"], observed=False).size().unstack()
    counts = counts.reindex(range(50), fill_value=0)[list(ens.channel_names)]
    np.testing.assert_array_equal(counts.to_numpy(), ens.sums.counts)


def test_memory_is_bounded_by_the_chunk() -> None:
    """State arrays live per chunk: 10^5 trajectories run in chunks of 4096."""
    model = ResetModel(qutrit(g=0.01), 0.002, 0.01)
    ens = simulate(
        model, n_traj=100_000, rng=np.random.default_rng(0), t_max=10.0, chunk_size=4096
    )
    assert ens.n_traj == 100_000
    assert ens.sums.counts.dtype == np.int32


@pytest.mark.parametrize(
    "bad",
    [
        {"n_traj": 0},
        {"n_traj": 2.5},
        {"t_max": -1.0},
        {"t_max": math.nan},
        {"sample_times": [3.0, 1.0]},
        {"sample_times": [-1.0]},
        {"burn_in": 20.0},
        {"n_windows": -1},
        {"initial": np.ones(9)},
        {"initial": np.ones(4) / 2},
        {"initial": "hot"},
        {"chunk_size": 0},
    ],
)
def test_bad_arguments_are_refused(bad: dict) -> None:
    model = ResetModel(qutrit(), 0.002, 0.01)
    kw = {"n_traj": 10, "rng": np.random.default_rng(0), "t_max": 10.0} | bad
    with pytest.raises(ValueError, match=next(iter(bad)).split("_")[0]):
        simulate(model, **kw)


def test_rng_must_be_a_generator() -> None:
    with pytest.raises(ValueError, match="rng"):
        simulate(ResetModel(qutrit(), 0.002, 0.01), n_traj=1, rng=1, t_max=1.0)


def test_single_decaying_qubit_statistics() -> None:
    """Exponential waiting time of a decaying qubit: KS test against exp(-Gamma t)."""
    from scipy.stats import kstest

    Gamma = 0.3
    model = LindbladModel(qubit_qubit(0.0), 0.0, 0.0, Gamma, 0.0)
    psi0 = np.zeros(4, complex)
    psi0[model.machine.index(1, 0)] = 1.0
    ens = simulate(
        model,
        n_traj=2000,
        rng=np.random.default_rng(9),
        t_max=100.0,
        initial=psi0,
        record_jumps=True,
    )
    t = ens.jumps()["time"].to_numpy()
    assert t.size == 2000  # every trajectory decays once before t_max (p ~ 1e-13)
    assert kstest(t, "expon", args=(0, 1 / Gamma)).pvalue > P_MIN


def test_lindblad_reproducible_and_counts_after_burn_in_consistent() -> None:
    """Bit-for-bit reproducibility of the Lindblad path (Newton roots, frozen rows,
    windows), and the jump counts after burn-in against the jump table."""
    model = LINDBLAD_MODELS["fig5b-dephasing"]()
    kw = {
        "n_traj": 200,
        "t_max": 3000.0,
        "burn_in": 1000.0,
        "sample_times": [1500.0, 3000.0],
        "n_windows": 2,
        "record_jumps": True,
        "chunk_size": 64,
    }
    a = simulate(model, rng=np.random.default_rng(7), **kw)
    b = simulate(model, rng=np.random.default_rng(7), **kw)
    np.testing.assert_array_equal(a.sums.counts, b.sums.counts)
    np.testing.assert_array_equal(a.density(1)[0], b.density(1)[0])
    np.testing.assert_array_equal(
        a.time_average_density()[0], b.time_average_density()[0]
    )
    assert a.jumps().equals(b.jumps())
    df = a.jumps()
    late = df[df["time"] >= 1000.0]
    counts = late.groupby(["trajectory", "channel"], observed=False).size().unstack()
    counts = counts.reindex(range(200), fill_value=0)[list(a.channel_names)]
    np.testing.assert_array_equal(counts.to_numpy(), a.sums.counts_after_burn_in)
