"""Open-system models: the reset model (Eq. 4) and the Lindblad model (Eqs. F1, F6).

Both models reduce to a Hamiltonian and a list of jump operators, from which the
Liouvillian is built (``liouvillian.py``). Because H_int conserves H_A + H_B and every
dissipator here is covariant, the free Hamiltonian can be dropped exactly (interaction
picture) for steady states: ``hamiltonian(interaction_picture=True)`` returns H_int.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from trajectories.system.baths import thermal_populations, transition_rates
from trajectories.system.checks import check_rate, parse_temperature
from trajectories.system.liouvillian import JumpOperator, lindblad_liouvillian
from trajectories.system.machine import Machine

Rates = float | Mapping[tuple[int, int], float]


def _local_jump(
    name: str, side: str, i: int, j: int, value: float, dims: tuple[int, int]
) -> JumpOperator:
    """value |i><j| on side A (or B), tensored with the identity on the other side."""
    d_A, d_B = dims
    if side == "A":
        other = np.arange(d_B)
        rows, cols = i * d_B + other, j * d_B + other
    else:
        other = np.arange(d_A) * d_B
        rows, cols = other + i, other + j
    vals = np.full(rows.size, value, dtype=complex)
    return JumpOperator(name, side, rows, cols, vals, d_A * d_B)


def _check_machine(machine: object) -> None:
    if not isinstance(machine, Machine):
        raise ValueError(
            f"machine={machine!r} must be a trajectories.machines.Machine "
            "(e.g. machines.qutrit())"
        )


class OpenSystem:
    """Common interface: a machine, a Hamiltonian and jump operators."""

    machine: Machine

    def hamiltonian(self, interaction_picture: bool = True) -> NDArray[np.complex128]:
        """H (D, D): H_int alone in the interaction picture, else H_A + H_B + H_int."""
        return self.machine.hamiltonian(interaction_picture)

    def jump_operators(self) -> list[JumpOperator]:
        """The jump operators L_k of the Lindblad form of the model."""
        raise NotImplementedError

    def liouvillian(self, interaction_picture: bool = True) -> sp.csr_matrix:
        """The Liouvillian (D^2, D^2), column-stacking convention (as QuTiP)."""
        return lindblad_liouvillian(
            self.hamiltonian(interaction_picture), self.jump_operators()
        )

    def to_qutip(self, interaction_picture: bool = True) -> tuple[object, list[object]]:
        """(H, c_ops) as QuTiP objects with dims [[d_A, d_B], [d_A, d_B]]."""
        import qutip

        dims = [list(self.machine.dims), list(self.machine.dims)]
        H = qutip.Qobj(sp.csr_matrix(self.hamiltonian(interaction_picture)), dims=dims)
        c_ops = [qutip.Qobj(j.op, dims=dims) for j in self.jump_operators()]
        return H, c_ops


def check_model(model: object) -> OpenSystem:
    """``model`` if it is an open system (a ResetModel or a LindbladModel)."""
    if not isinstance(model, OpenSystem):
        raise ValueError(
            f"model={model!r} must be a ResetModel or LindbladModel (an OpenSystem)"
        )
    return model


@dataclass(frozen=True, eq=False)
class ResetModel(OpenSystem):
    """The reset model of Eq. 4: each system is reset to its thermal state at rate p.

    The reset channel p (tau (x) Tr - id) is the Lindblad dissipator of the Kraus jumps
    K_ij = sqrt(p w_i) |i><j| (w the thermal populations), whose K^dag K sum to p 1.
    """

    machine: Machine
    p_A: float
    p_B: float
    T_A: float | str = math.inf
    T_B: float | str = 0.0

    def __post_init__(self) -> None:
        _check_machine(self.machine)
        object.__setattr__(self, "p_A", check_rate(self.p_A, "p_A"))
        object.__setattr__(self, "p_B", check_rate(self.p_B, "p_B"))
        object.__setattr__(self, "T_A", parse_temperature(self.T_A, "T_A"))
        object.__setattr__(self, "T_B", parse_temperature(self.T_B, "T_B"))

    @property
    def tau_A(self) -> NDArray[np.float64]:
        """Thermal populations of A at T_A."""
        return thermal_populations(self.machine.energies_A, self.T_A)

    @property
    def tau_B(self) -> NDArray[np.float64]:
        """Thermal populations of B at T_B."""
        return thermal_populations(self.machine.energies_B, self.T_B)

    def jump_operators(self) -> list[JumpOperator]:
        """Kraus jumps sqrt(p w_i)|i><j| of each reset (zero-weight ones omitted)."""
        ops = []
        for side, p, w in (("A", self.p_A, self.tau_A), ("B", self.p_B, self.tau_B)):
            d = w.size
            for i in np.flatnonzero(w * p > 0):
                for j in range(d):
                    ops.append(
                        _local_jump(
                            f"{side}:reset {j}->{i}",
                            side,
                            i,
                            j,
                            math.sqrt(p * w[i]),
                            self.machine.dims,
                        )
                    )
        return ops

    def __repr__(self) -> str:
        return (
            f"ResetModel({self.machine!r}, p_A={self.p_A}, p_B={self.p_B}, "
            f"T_A={self.T_A}, T_B={self.T_B})"
        )


def _transition_gammas(Gamma: Rates, d: int, name: str) -> dict[tuple[int, int], float]:
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    if isinstance(Gamma, Mapping):
        unknown = [k for k in Gamma if not isinstance(k, tuple) or k not in pairs]
        if unknown:
            raise ValueError(
                f"{name} has transitions {unknown}; valid pairs are {pairs}"
            )
        return {p: check_rate(Gamma.get(p, 0.0), f"{name}[{p}]") for p in pairs}
    return {p: check_rate(Gamma, name) for p in pairs}


@dataclass(frozen=True, eq=False)
class LindbladModel(OpenSystem):
    """The Lindblad model of Eq. F1, with the pure dephasing of Eq. F6 / F12.

    Every local transition i < j of system k couples to bath k with rate Gamma_k (a
    number, or a mapping {(i, j): Gamma} for per-transition couplings): absorption
    Gamma n_B |j><i| and emission Gamma (1 + n_B) |i><j|, n_B Bose-Einstein at the
    transition energy (detailed balance, Eq. F5). ``dephasing`` = gamma adds
    gamma D[|l><l|] for every excited level l >= 1 of each system (Eq. F12).
    """

    machine: Machine
    T_A: float | str
    T_B: float | str
    Gamma_A: Rates
    Gamma_B: Rates
    dephasing: float = 0.0

    def __post_init__(self) -> None:
        _check_machine(self.machine)
        for name in ("T_A", "T_B"):
            T = parse_temperature(getattr(self, name), name, finite=True)
            object.__setattr__(self, name, T)
        object.__setattr__(self, "dephasing", check_rate(self.dephasing, "dephasing"))
        for side, E in (("A", self.machine.energies_A), ("B", self.machine.energies_B)):
            if np.any(np.diff(E) <= 0):
                raise ValueError(
                    f"the Lindblad model needs strictly increasing levels on {side}, "
                    f"got energies_{side}={E}"
                )
            name = f"Gamma_{side}"
            object.__setattr__(
                self, name, _transition_gammas(getattr(self, name), len(E), name)
            )
        self.jump_operators()  # validates temperatures against the rates

    def jump_operators(self) -> list[JumpOperator]:
        """Thermal jumps sqrt(Gamma^+-) sigma^+- of Eqs. F9-F11 and dephasing F12."""
        ops = []
        m = self.machine
        for side, E, T, gammas in (
            ("A", m.energies_A, self.T_A, self.Gamma_A),
            ("B", m.energies_B, self.T_B, self.Gamma_B),
        ):
            d = len(E)
            for (i, j), Gamma in gammas.items():
                up, down = transition_rates(Gamma, E[j] - E[i], T)
                if up > 0:
                    ops.append(
                        _local_jump(
                            f"{side}:up {i}->{j}", side, j, i, math.sqrt(up), m.dims
                        )
                    )
                if down > 0:
                    ops.append(
                        _local_jump(
                            f"{side}:down {j}->{i}", side, i, j, math.sqrt(down), m.dims
                        )
                    )
            if self.dephasing > 0:
                for level in range(1, d):
                    ops.append(
                        _local_jump(
                            f"{side}:dephase {level}",
                            side,
                            level,
                            level,
                            math.sqrt(self.dephasing),
                            m.dims,
                        )
                    )
        return ops

    def __repr__(self) -> str:
        return (
            f"LindbladModel({self.machine!r}, T_A={self.T_A}, T_B={self.T_B}, "
            f"dephasing={self.dephasing})"
        )
