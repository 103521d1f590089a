"""Benchmark: the engine's throughput against a bare compiled kernel of its algorithm.

The reference (``reference_run`` below) is a plain numba loop, one trajectory at a
time, of the same event-driven algorithm, written independently of the engine's
kernel and with nothing else: jump times from the clock (the uniform rate of the
reset model, safeguarded Newton on the log-norm otherwise), the coupled block
evolved in the eigenbasis of H_eff, one factor per level outside it, the two-stage
channel choice (source by local population, then channel), the jump. It keeps no
samples, no sums and no time averages; it only counts jumps.

The engine runs through ``trajectories.simulate`` as a user calls it (the default
chunk size), keeping what the reference keeps: the jumps, counted per trajectory
and channel. (A density sample costs O(D^2) per trajectory besides, for its sums
and squares; at D = 400 that is several times the cost of 20 jumps.) Both timings
include building the model's arrays (``Unravelling.from_model``). Cases: the reset
model (Eq. 4) and the Lindblad model
(Eq. F6, T_A = 3, T_B = 0.2) of the qudit machine at D = 9, 49 and 400 (d = 2, 6,
19), from |0, 0> over the time of ~20 jumps per trajectory at the steady state.

Timing: CPU time of this process, one BLAS thread, the two contenders interleaved in
each of ``REPEATS`` rounds (the order alternates), compiled code warmed up first.
Per case: jumps per second of each (median [min, max]) and the engine's share of the
reference's throughput (median [min, max] of the per-round ratios).

    python examples/benchmark_kernel.py        # about 2 minutes on one core

The last line is ``engine/compiled min=<x>``: the smallest median share over the
cases (the target is >= 0.8).
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import statistics
import time

import numba
import numpy as np

from trajectories.engine.unravelling import Unravelling
from trajectories.exact.states import steady_state
from trajectories.simulation import simulate
from trajectories.system.machines import qudit, qutrit
from trajectories.system.models import LindbladModel, OpenSystem, ResetModel

REPEATS = 3
JUMPS_PER_TRAJECTORY = 20.0
TARGET_JUMPS = 2_000_000
"""Jumps per timed run of each contender (trajectories = this / 20)."""


@numba.njit(cache=True, error_model="numpy")
def _block_after(psi, s, C, R, R_inv, lam, tmp, out):
    """out = the coupled block of exp(-i H_eff s) psi: R e^{-i lam s} R^-1 psi_C."""
    for j in range(C.size):
        acc = 0j
        for k in range(C.size):
            acc += R_inv[j, k] * psi[C[k]]
        tmp[j] = acc * np.exp(-1j * lam[C[j]] * s)
    for j in range(C.size):
        acc = 0j
        for k in range(C.size):
            acc += R[j, k] * tmp[k]
        out[j] = acc


@numba.njit(cache=True, error_model="numpy")
def _log_norm(s, psi, C, R, R_inv, lam, G, y, out):
    """(log ||exp(-i H_eff s) psi||^2, d/ds of it)."""
    a, b = 0.0, 0.0
    inside = np.zeros(psi.size, np.bool_)
    for i in C:
        inside[i] = True
    for i in range(psi.size):
        if not inside[i] and psi[i] != 0:
            e = abs(psi[i]) ** 2 * np.exp(-G[i] * s)
            a += e
            b += G[i] * e
    _block_after(psi, s, C, R, R_inv, lam, y, out)
    for j in range(C.size):
        p = abs(out[j]) ** 2
        a += p
        b += G[C[j]] * p
    return np.log(a), -b / a


@numba.njit(cache=True, error_model="numpy")
def _root(psi, E, horizon, C, R, R_inv, lam, G, y, out):
    """The s < horizon where log ||psi(s)||^2 = -E (Newton, bisection guard), or
    inf."""
    f, df = _log_norm(horizon, psi, C, R, R_inv, lam, G, y, out)
    if f + E > 0:
        return np.inf
    lo, hi, s = 0.0, horizon, 0.0
    for _ in range(100):
        f, df = _log_norm(s, psi, C, R, R_inv, lam, G, y, out)
        f += E
        if abs(f) <= 1e-13:
            return s
        if f > 0:
            lo = s
        else:
            hi = s
        new = s - f / df
        s = new if lo < new < hi else 0.5 * (lo + hi)
    return s


@numba.njit(cache=True, error_model="numpy")
def reference_run(psi0, n, T, rate, C, R, R_inv, lam, G, dims, out, cdf, chan,
                  src, dst, rng):
    """Run n trajectories from psi0 to T; return the number of jumps."""
    d_A, d_B = dims
    D = psi0.size
    psi = np.empty(D, np.complex128)
    y = np.empty(C.size, np.complex128)
    c = np.empty(C.size, np.complex128)
    w = np.empty(d_A + d_B)
    vals = np.empty(src.shape[1], np.complex128)
    jumps = 0
    for _ in range(n):
        psi[:] = psi0
        t = 0.0
        while True:
            E = rng.standard_exponential()
            if rate > 0:
                s = E / rate
            else:
                s = _root(psi, E, T - t, C, R, R_inv, lam, G, y, c)
            step = min(s, T - t)
            _block_after(psi, step, C, R, R_inv, lam, c, y)  # in the eigenbasis
            for j in range(C.size):
                psi[C[j]] = y[j]
            if rate < 0:  # decay of the other levels (no phase in the picture)
                for i in range(D):
                    if psi[i] != 0 and G[i] > 0:
                        inside = False
                        for k in C:
                            inside |= k == i
                        if not inside:
                            psi[i] *= np.exp(-0.5 * G[i] * step)
            if s >= T - t:
                break
            t += s
            w[:] = 0.0
            for a in range(d_A):
                for b in range(d_B):
                    p = abs(psi[a * d_B + b]) ** 2
                    w[a] += p
                    w[d_A + b] += p
            total = 0.0
            for q in range(w.size):
                total += out[q] * w[q]
            v, g, cum = rng.random() * total, 0, out[0] * w[0]
            while g < w.size - 1 and cum <= v:
                g += 1
                cum += out[g] * w[g]
            u, q = rng.random(), 0
            while q < cdf.shape[1] - 1 and cdf[g, q] <= u:
                q += 1
            k = chan[g, q]
            norm = 1.0 / np.sqrt(w[g])
            for j in range(vals.size):
                vals[j] = psi[src[g, j]] * norm
            psi[:] = 0
            for j in range(vals.size):
                psi[dst[k, j]] = vals[j]
            jumps += 1
    return jumps


def reference_arrays(unr: Unravelling) -> tuple:
    """The model's arrays for ``reference_run`` (the eigensystem of H_eff's block,
    the decay rates, the two-stage channel tables)."""
    jt, ch = unr.jump_tables, unr.channels
    source = np.where(ch.bath == 0, ch.frm, unr.dims[0] + ch.frm)
    out = np.bincount(source, weights=ch.rate, minlength=jt.n_src)
    uniform = unr.uniform_rate is not None
    lam = unr.lam.real + 0j if uniform else unr.lam
    return (
        float(unr.uniform_rate) if uniform else -1.0,
        unr.coupled,
        np.ascontiguousarray(unr.R_block),
        np.ascontiguousarray(unr.R_inv_block),
        np.ascontiguousarray(lam),
        unr.decay,
        np.array(unr.dims),
        out,
        jt.cdf,
        jt.chan,
        jt.src,
        jt.dst,
    )


def horizon(model: OpenSystem) -> float:
    """The time of ``JUMPS_PER_TRAJECTORY`` jumps at the steady state."""
    rho = steady_state(model)
    G = sum((L.op.conj().T @ L.op).toarray() for L in model.jump_operators())
    return JUMPS_PER_TRAJECTORY / float(np.trace(G @ rho).real)


def time_reference(model, psi0, n, T, seed) -> tuple[float, int]:
    start = time.process_time()  # the model's arrays included, as in ``simulate``
    args = reference_arrays(Unravelling.from_model(model))
    jumps = reference_run(psi0, n, T, *args, np.random.default_rng(seed))
    return time.process_time() - start, jumps


def time_engine(model, psi0, n, T, seed) -> tuple[float, int]:
    start = time.process_time()
    ens = simulate(model, n_traj=n, rng=np.random.default_rng(seed), t_max=T,
                   initial=psi0)
    seconds = time.process_time() - start
    return seconds, int(ens.sums.counts.sum())


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3g} [{min(values):.3g}, {max(values):.3g}]"


def compare(label: str, model: OpenSystem) -> float:
    """Interleaved rounds of both contenders; print the line; return the median
    share engine / reference."""
    T = horizon(model)
    psi0 = np.zeros(model.machine.dim, complex)
    psi0[0] = 1.0
    n = max(int(TARGET_JUMPS / JUMPS_PER_TRAJECTORY), 100)
    for fn in (time_reference, time_engine):
        fn(model, psi0, 64, T, 0)  # compile, caches
    rates: dict[str, list[float]] = {"engine": [], "reference": []}
    for r in range(REPEATS):
        order = [("engine", time_engine), ("reference", time_reference)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            seconds, jumps = fn(model, psi0, n, T, 1 + r)
            rates[name].append(jumps / seconds)
    share = [e / c for e, c in zip(rates["engine"], rates["reference"], strict=True)]
    print(
        f"{label:<22} D = {model.machine.dim:>3}  engine {spread(rates['engine']):>24}"
        f"  reference {spread(rates['reference']):>24} jumps/s  "
        f"engine/reference {spread(share)}"
    )
    return statistics.median(share)


def cases() -> list[tuple[str, OpenSystem]]:
    out = []
    for d in (2, 6, 19):
        machine = qutrit(g=0.01) if d == 2 else qudit(d, g=0.01)
        out.append((f"reset d = {d}", ResetModel(machine, 0.002, 0.01)))
        out.append(
            (f"Lindblad d = {d}", LindbladModel(machine, 3.0, 0.2, 1e-3, 5e-3))
        )
    return out


def main() -> None:
    print(f"numpy {np.__version__}, numba {numba.__version__}; CPU time, one thread, "
          f"{REPEATS} interleaved rounds, ~{TARGET_JUMPS:.0e} jumps per run")
    shares = [compare(label, model) for label, model in cases()]
    print(f"engine/compiled min={min(shares):.2f}")


if __name__ == "__main__":
    main()
