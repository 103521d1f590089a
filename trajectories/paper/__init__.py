"""The paper's closed forms, one module per machine, each tested against exact numerics.

* ``qutrit``: Eqs. 6, 8 and B2-B11 (two-qutrit machine, reset model, T_A = inf, T_B = 0)
* ``qudit``: Eq. 12 and App. C: the steady state C2-C3, the steps C4-C10 of its proof,
  the filtered state C11 and the limit C12
* ``one_step``: Eqs. E3-E10 (one-step machines, g -> 0 limits)
* ``small_machines``: App. G (qubit-qubit and qubit-qutrit machines)
* ``lindblad``: Eqs. F1-F5 (the Lindblad master equation, its correspondence with the
  reset model, detailed balance) and the readings of the model of Eq. F6 compared for
  Figs. 5(b) and 8

Where the paper has a typo, the function implements the corrected form and its docstring
and test say what was changed.
"""
