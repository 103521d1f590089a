"""10^6 trajectories of the two-qutrit reset machine (Eq. 4) from its steady state:
CPU time and p_suc at t = 1000 with its SE (exact: 0.048309).

    /usr/bin/time -f "%M KB peak" python examples/million_trajectories.py
"""

import time

import numpy as np

from trajectories import simulate
from trajectories.system.machines import qutrit
from trajectories.system.models import ResetModel

model = ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01)
start = time.process_time()
ens = simulate(model, n_traj=10**6, rng=np.random.default_rng(1), t_max=1000.0,
               sample_times=[1000.0])
mean, se = ens.observable("p_suc")
print(f"{time.process_time() - start:.1f} s CPU, p_suc = {mean[0]:.6f} +- {se[0]:.6f}")
