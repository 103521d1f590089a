"""The jump engine against the exact references (fixed seeds, SE-based tolerances).

Measured false-alarm rate: 4.3e-3 per change of random stream (95% upper bound
0.21; 45 seeds per check, `python examples/seed_scan.py --checks 'unravel:*' --seeds
45 --first-seed 2000000`), the sum over its 16 stochastic checks; no failure.

Every estimate is compared with its exact value through z = (est - exact)/se. The
z values of one density matrix are strongly correlated (the populations sum to 1,
every element comes from the same trajectories), so sum z^2 is not chi-square
distributed: the chi-square test on it failed a correct engine at 9 of 80 seeds
(qutrit-gradient) and 3 of 30 (fig5b). A Mahalanobis form z^T S^-1 z would need the
covariance S of all compared elements, which the engine's running sums do not keep
(one variance per element), and which the rare elements would leave
ill-conditioned. Each check therefore compares the largest |z| with a
Bonferroni-aware threshold (``calibration.z_max``: 4.5 for one z, 5.2 for 30, 5.3
for 60), at which a correct engine fails with probability at most 6.8e-6 whatever
the correlations (Sidak's inequality), the level of a single |z| < 4.5.

Only elements that the sample resolves are compared, and only where their z is
close to normal: ensemble averages with n |exact| >= 200 (a population is a mean
of nearly 0/1 values, whose studentized z has a heavy lower tail: with the former
floor n |exact| > 50, and p_suc compared at n p_suc ~ 45, fig5b-dephasing failed at
1 of 30 seeds with z = -5.7), time averages with n |exact| >= 50, jump rates with
>= 200 expected jumps. A negative control (hot and cold swapped) must fail.
"""

from __future__ import annotations

import math
import tracemalloc
from functools import partial

import numpy as np
import pytest
from calibration import Z_MAX, Bound, Outcome

from trajectories.engine.unravelling import Unravelling
from trajectories.exact.states import evolve, herald, steady_state
from trajectories.simulation import simulate
from trajectories.system.machines import qubit_qubit, qubit_qutrit, qudit, qutrit
from trajectories.system.models import LindbladModel, OpenSystem, ResetModel


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
    meaningless), and its z is close to normal only if n |exact| is large: a
    population is then a mean of nearly 0/1 values, whose studentized z has a heavy
    lower tail (P(|z| > 5) is 100 times the normal value at n |exact| = 50, 10 times
    at 200). Pass floor = SNAPSHOT_COUNT / n for ensemble averages and
    TIME_AVERAGE_COUNT / n for time averages.
    """
    z = []
    upper = np.triu(np.ones(exact.shape, dtype=bool))  # rho_ji = conj(rho_ij)
    for part in ("real", "imag"):
        e, s, x = (getattr(a, part) for a in (est, se, exact))
        mask = (np.abs(x) > floor) & upper
        z.append((e[mask] - x[mask]) / s[mask])
    return np.concatenate(z)


SNAPSHOT_COUNT = 200
"""Smallest n |exact| of an ensemble average compared with its exact value (also the
smallest expected number of jumps of a compared jump rate, and n p_suc)."""

TIME_AVERAGE_COUNT = 50
"""Smallest n |exact| of a time average compared with its exact value: each
trajectory visits a state many times, so its z is normal at smaller elements (z of
elements with n |exact| in [5, 20) exceed 3 four times as often as a normal z)."""


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


# ------------------------------------------------------------ stochastic checks


def stationary_outcome(
    model: OpenSystem,
    n_traj: int,
    t_max: float,
    seed: int,
    label: str,
    kernel: str = "auto",
) -> Outcome:
    """Ensemble rho at t_max/2 and t_max, time-average rho, p_suc (three
    estimators) and the jump rate per channel against the exact steady state."""
    rho = steady_state(model)
    ens = simulate(
        model,
        n_traj=n_traj,
        rng=np.random.default_rng(seed),
        t_max=t_max,
        sample_times=[t_max / 2, t_max],
        n_windows=4,
        kernel=kernel,
    )
    z = [density_z(*ens.density(i), rho, SNAPSHOT_COUNT / n_traj) for i in (0, 1)]
    # a time average visits each state many times per trajectory: it resolves smaller
    # elements
    z.append(density_z(*ens.time_average_density(), rho, TIME_AVERAGE_COUNT / n_traj))
    p_exact = herald(rho, model.machine.filter).p_suc
    z.append(ens.time_average("p_suc").z(p_exact))
    if n_traj * p_exact >= SNAPSHOT_COUNT:
        mean, se = ens.observable("p_suc")
        z.append((mean - p_exact) / se)
    rates, rates_se = ens.jump_rates()
    exact = exact_jump_rates(model, rho)
    seen = exact * t_max * n_traj >= SNAPSHOT_COUNT  # enough jumps for a normal law
    z.append((rates[seen] - exact[seen]) / rates_se[seen])
    flags = [
        ("two channels or more compared", seen.sum() >= 2),
        (
            "no jump through a channel of zero rate",
            (ens.sums.counts[:, exact == 0] == 0).all(),
        ),
    ]
    return Outcome.of(z, flags=flags, label=label)


def check_reset_stationary(name: str, seed: int = 11, kernel: str = "auto") -> Outcome:
    model = RESET_MODELS[name]()
    label = f"stationary {name} ({kernel})"
    return stationary_outcome(model, 3000, 5000.0, seed, label, kernel)


def check_lindblad_stationary(
    name: str, seed: int = 12, kernel: str = "auto"
) -> Outcome:
    model = LINDBLAD_MODELS[name]()
    t_max = 3000.0 if name != "high-temperature" else 300.0
    label = f"stationary {name} ({kernel})"
    return stationary_outcome(model, 1500, t_max, seed, label, kernel)


NUMPY_KERNEL = ("qutrit-gradient", "fig5b-dephasing")
"""Models whose stationary checks also run on the numpy passes (``kernel="numpy"``),
the engine's path where the compiled kernel does not apply."""


def check_exceptional_point(seed: int = 13) -> Outcome:
    """Qubit-qutrit machine at g1 = g2 = |Gamma_A - Gamma_B|/4, T_B = 0, no dephasing:
    both 2 x 2 blocks of H_eff are defective (the decay rates of |0,1>, |1,0> and of
    |0,2>, |1,1> differ by Gamma_B - Gamma_A at any T_A), so the coupled block is
    propagated exactly without eigenvectors; a hot A gives a non-trivial steady state.
    """
    g = abs(0.01 - 0.05) / 4
    model = LindbladModel(qubit_qutrit(g, g), 2.0, 0.0, 0.01, 0.05)
    assert Unravelling.from_model(model).exact_block is not None
    return stationary_outcome(model, 1500, 1500.0, seed, "exceptional point")


def test_lindblad_model_at_an_exceptional_point() -> None:
    check_exceptional_point().check()


RELAXATION = {
    "reset": (lambda: RESET_MODELS["qutrit-finite-1"](), [50.0, 200.0, 800.0]),
    "lindblad": (lambda: LINDBLAD_MODELS["fig5b-dephasing"](), [100.0, 500.0, 2000.0]),
}


def check_relaxation(kind: str, seed: int = 5) -> Outcome:
    """rho(t) from |2, 0> against e^{Lt} rho_0 at three times."""
    make, times = RELAXATION[kind]
    model = make()
    D = model.machine.dim
    rho0 = np.zeros((D, D), complex)
    k = model.machine.index(2, 0)
    rho0[k, k] = 1.0
    exact = evolve(model, rho0, times)
    ens = simulate(
        model,
        n_traj=3000,
        rng=np.random.default_rng(seed),
        t_max=times[-1],
        sample_times=times,
        initial=rho0,
    )
    floor = SNAPSHOT_COUNT / 3000
    z = [density_z(*ens.density(i), exact[i], floor) for i in range(len(times))]
    return Outcome.of(z, label=f"rho(t) against e^(Lt) rho0 ({kind})")


def check_thermal_start(seed: int = 8) -> Outcome:
    """rho(300) from tau_A x tau_B against e^{Lt} of the same state."""
    model = RESET_MODELS["qutrit-gradient"]()
    rho_t = evolve(model, np.diag(np.kron(model.tau_A, model.tau_B)), [300.0])[0]
    ens = simulate(
        model,
        n_traj=3000,
        rng=np.random.default_rng(seed),
        t_max=300.0,
        sample_times=[300.0],
        initial="thermal",
    )
    z = density_z(*ens.density(0), rho_t, SNAPSHOT_COUNT / 3000)
    return Outcome.of([z], label="thermal start")


def check_time_average_and_autocorrelation(seed: int = 3) -> Outcome:
    """The time average of p_suc against the exact value, and its autocorrelation
    time: 1 < tau_int < 500 (the slowest mode relaxes in ~1/(p_A + ...) < 1/p_A =
    500), so that the time average over T is worth ~T/(2 tau) samples and its SE is
    below that of every ensemble average."""
    model = RESET_MODELS["qutrit-gradient"]()
    ens = simulate(
        model,
        n_traj=2000,
        rng=np.random.default_rng(seed),
        t_max=3000.0,
        sample_times=[1000.0, 2000.0, 3000.0],
        n_windows=6,
    )
    p_exact = herald(steady_state(model), model.machine.filter).p_suc
    est = ens.time_average("p_suc")
    _, se = ens.observable("p_suc")
    bounds = [
        Bound("tau_int", ens.autocorrelation_time("p_suc"), 1.0, 500.0),
        Bound("time-average SE / smallest ensemble SE", est.se / se.min(), high=1.0),
    ]
    return Outcome.of([est.z(p_exact)], bounds=bounds, label="time average")


DECAY_RATE = 0.3


def check_single_decaying_qubit(seed: int = 9) -> Outcome:
    """Jump times of a decaying qubit: KS test against exp(-Gamma t)."""
    from scipy.stats import kstest

    model = LindbladModel(qubit_qubit(0.0), 0.0, 0.0, DECAY_RATE, 0.0)
    psi0 = np.zeros(4, complex)
    psi0[model.machine.index(1, 0)] = 1.0
    ens = simulate(
        model,
        n_traj=2000,
        rng=np.random.default_rng(seed),
        t_max=100.0,
        initial=psi0,
        record_jumps=True,
    )
    t = ens.jumps()["time"].to_numpy()
    # every trajectory decays once before t_max (p ~ 1e-13)
    flags = [("one jump per trajectory", t.size == 2000)]
    p = kstest(t, "expon", args=(0, 1 / DECAY_RATE)).pvalue
    return Outcome.of(p=[p], flags=flags, label="decaying qubit")


STOCHASTIC_CHECKS = {
    **{
        f"stationary[{n}]": partial(check_reset_stationary, n)
        for n in sorted(RESET_MODELS)
    },
    **{
        f"stationary[{n}]": partial(check_lindblad_stationary, n)
        for n in sorted(LINDBLAD_MODELS)
    },
    "stationary-numpy[qutrit-gradient]": partial(
        check_reset_stationary, "qutrit-gradient", kernel="numpy"
    ),
    "stationary-numpy[fig5b-dephasing]": partial(
        check_lindblad_stationary, "fig5b-dephasing", kernel="numpy"
    ),
    **{f"relaxation[{k}]": partial(check_relaxation, k) for k in RELAXATION},
    "thermal-start": check_thermal_start,
    "time-average": check_time_average_and_autocorrelation,
    "decaying-qubit": check_single_decaying_qubit,
    "exceptional-point": check_exceptional_point,
}
"""Every stochastic check of this module as a function of the seed (for the tests
with their fixed seeds, and for ``examples/seed_scan.py`` with fresh ones)."""


# ------------------------------------------------------------------------ tests


@pytest.mark.parametrize("name", sorted(RESET_MODELS))
def test_reset_model_stationary_estimates(name: str) -> None:
    check_reset_stationary(name).check()


@pytest.mark.parametrize("name", sorted(LINDBLAD_MODELS))
def test_lindblad_model_stationary_estimates(name: str) -> None:
    check_lindblad_stationary(name).check()


@pytest.mark.parametrize("name", NUMPY_KERNEL)
def test_numpy_kernel_stationary_estimates(name: str) -> None:
    STOCHASTIC_CHECKS[f"stationary-numpy[{name}]"]().check()


@pytest.mark.parametrize("kind", sorted(RELAXATION))
def test_relaxation_matches_exact_evolution(kind: str) -> None:
    check_relaxation(kind).check()


def test_thermal_start_relaxes_to_steady_state() -> None:
    check_thermal_start().check()


def test_time_average_and_autocorrelation_time() -> None:
    check_time_average_and_autocorrelation().check()


def test_single_decaying_qubit_statistics() -> None:
    check_single_decaying_qubit().check()


def test_negative_control_swapped_baths_must_fail() -> None:
    """The same check on the machine with hot and cold swapped must reject it."""
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
    outcome = Outcome.of([density_z(*ens.density(0), rho, SNAPSHOT_COUNT / 3000)])
    assert outcome.max_abs_z > 10 * Z_MAX
    assert not outcome.passed
    with pytest.raises(AssertionError):
        outcome.check()


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


def _peak_bytes(model: OpenSystem, n_traj: int, chunk_size: int) -> int:
    """Peak of the memory traced during one run (numpy reports its buffers)."""
    tracemalloc.start()
    try:
        simulate(
            model,
            n_traj=n_traj,
            rng=np.random.default_rng(0),
            t_max=10.0,
            sample_times=[5.0, 10.0],
            n_windows=2,
            chunk_size=chunk_size,
        )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_bounded_by_the_chunk() -> None:
    """State arrays live per chunk: the peak is O(chunk_size D^2), plus the jump
    counts kept per trajectory (two int32 arrays (n_traj, K), copied once when
    chunks merge). Bound: 16 chunk states of chunk_size D^2 complex numbers (psi
    psi^dag, the window integrals and the temporaries of a pass: ~8 measured) plus
    2 x 8 K bytes per trajectory. Ten times the trajectories raise the peak by the
    counts only (~1.35x measured, 10x if the states were not chunked); a single
    chunk of 8192 trajectories (negative control) breaks the bound."""
    model = ResetModel(qutrit(g=0.01), 0.002, 0.01)
    D, K = model.machine.dim, len(Unravelling.from_model(model).channels)
    chunk = 512
    _peak_bytes(model, 10, chunk)  # caches (steady state, unravelling) outside

    def bound(n_traj: int, chunk_size: int) -> float:
        return 16 * chunk_size * D**2 * 16 + 2 * n_traj * K * 4 * 2

    small = _peak_bytes(model, 2000, chunk)
    large = _peak_bytes(model, 20000, chunk)
    assert small <= bound(2000, chunk)
    assert large <= bound(20000, chunk)
    assert large < 2 * small, (small, large)
    assert _peak_bytes(model, 8192, 8192) > bound(8192, chunk)


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
