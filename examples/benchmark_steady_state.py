"""Benchmark: the reduced-space exact steady state against ``qutip.steadystate``.

The steady state of an energy-conserving machine only has coherences inside degenerate
energy subspaces, and in practice only those H_int builds (App. B, C); the solver works
in that reduced space. This script times it next to QuTiP 5's ``steadystate`` on the
same model (interaction picture for both, as a careful QuTiP user would) and prints the
largest difference between the two states.

    python examples/benchmark_steady_state.py

Targets: the two-qutrit machine in under 5 ms, the one-step machine at d = 20 (400
joint levels, Fig. 6) in under 1 s.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import qutip

from trajectories.exact.states import steady_state
from trajectories.system.machines import one_step, qutrit
from trajectories.system.models import OpenSystem, ResetModel


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def compare(label: str, model: OpenSystem, repeat: int, target_s: float) -> None:
    """Time both solvers on ``model`` and print times, ratio and agreement."""
    ours = steady_state(model)
    H, c_ops = model.to_qutip(interaction_picture=True)
    peer = qutip.steadystate(H, c_ops).full()
    t_ours = best_time(lambda: steady_state(model), repeat)
    t_peer = best_time(
        lambda: qutip.steadystate(*model.to_qutip()), max(1, repeat // 10)
    )
    t_peer_solve = best_time(lambda: qutip.steadystate(H, c_ops), max(1, repeat // 10))
    diff = np.abs(ours - peer).max()
    status = "met" if t_ours < target_s else "MISSED"
    print(f"{label}")
    print(
        f"  reduced solver      {t_ours * 1e3:10.3f} ms   "
        f"(target < {target_s * 1e3:g} ms: {status})"
    )
    print(
        f"  qutip.steadystate   {t_peer_solve * 1e3:10.3f} ms   "
        f"(+ building Qobjs: {t_peer * 1e3:.3f} ms)"
    )
    print(f"  speed-up            {t_peer_solve / t_ours:10.1f} x")
    print(f"  max |rho - rho_qutip| = {diff:.2e}")


def main() -> None:
    """Run both benchmarks."""
    compare(
        "two-qutrit machine, reset model (Eq. 4), T_A = inf, T_B = 0",
        ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01, T_A=math.inf, T_B=0.0),
        repeat=200,
        target_s=5e-3,
    )
    compare(
        "two-qutrit machine, reset model, T_A = 2, T_B = 0.3",
        ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01, T_A=2.0, T_B=0.3),
        repeat=200,
        target_s=5e-3,
    )
    compare(
        "one-step machine (Eq. E1), d = 20, 400 joint levels",
        ResetModel(one_step(20, g=1e-3, g1=5e-3), p_A=1e-3, p_B=1e-2),
        repeat=5,
        target_s=1.0,
    )


if __name__ == "__main__":
    main()
