"""Exact steady-state heralding figures of the default two-qutrit machine.

The machine of Eqs. 1-3 at theta = pi/4 in the reset model (Eq. 4) with the maximal
temperature gradient T_A = inf, T_B = 0: the steady state, the filter of Eq. 5, and the
quality of the post-selected state rho'.

    python examples/default_machine.py
"""

from __future__ import annotations

import math

from analysis.measures import chsh_max, fidelity, negativity, purity
from trajectories.exact.states import herald, steady_state
from trajectories.system.machines import qutrit
from trajectories.system.models import ResetModel

DEFAULT = {"g": 0.01, "theta": math.pi / 4, "eps": 1.5, "p_A": 0.002, "p_B": 0.01}


def main() -> None:
    """Print p_suc and the quality of rho' for the default machine."""
    machine = qutrit(g=DEFAULT["g"], theta=DEFAULT["theta"], eps=DEFAULT["eps"])
    model = ResetModel(
        machine, p_A=DEFAULT["p_A"], p_B=DEFAULT["p_B"], T_A=math.inf, T_B=0.0
    )
    result = herald(steady_state(model), machine.filter)
    rho = result.rho_post
    print(f"{model!r}")
    print(f"p_suc       = {result.p_suc:.6f}")
    print(f"negativity  = {negativity(rho):.6f}   (maximal: 0.5)")
    print(f"CHSH        = {chsh_max(rho):.6f}   (local bound 2, Tsirelson 2.828427)")
    print(f"fidelity    = {fidelity(rho, machine.target):.6f}   (to Eq. 7)")
    print(f"purity      = {purity(rho):.6f}")


if __name__ == "__main__":
    main()
