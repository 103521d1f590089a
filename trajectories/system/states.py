"""States of a machine: the one validator of state vectors and density matrices,
and the product states a machine can start from without solving anything.

``thermal_start``: tau_A (x) tau_B, each system thermal at its bath's temperature
(Eq. 4; the restart state after a delivered pair); ``ground_start``: both systems in
their lowest level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components

from trajectories.system.baths import thermal_state
from trajectories.system.checks import STATE_TOL, check_unit_vector
from trajectories.system.models import OpenSystem
from trajectories.system.qobj import from_qobj

if TYPE_CHECKING:
    from qutip import Qobj


def check_state(
    state: ArrayLike | Qobj,
    dim: int | Sequence[int],
    name: str = "state",
    *,
    vector_ok: bool = True,
) -> NDArray[np.complex128]:
    """A finite unit vector (dim,) or density matrix (dim, dim), validated within
    ``STATE_TOL``; ValueError naming ``name``, the value and the valid range. ``dim``
    may be the local dimensions (d_A, d_B), which a ``qutip.Qobj`` must have as dims.
    """
    local = (dim,) if isinstance(dim, int | np.integer) else tuple(dim)
    dim = int(np.prod(local))
    state = from_qobj(state, local, name, "state" if vector_ok else "oper")
    try:
        x = np.asarray(state, dtype=complex)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={state!r} must be a numeric array") from None
    shapes = f"({dim},) or ({dim}, {dim})" if vector_ok else f"({dim}, {dim})"
    if x.shape not in ((dim, dim), (dim,) if vector_ok else (dim, dim)):
        raise ValueError(f"{name} has shape {x.shape}; expected {shapes}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or Inf; it must be finite")
    if x.ndim == 1:
        check_unit_vector(x, name)
        return x
    if not np.allclose(x, x.conj().T, rtol=0, atol=STATE_TOL):
        raise ValueError(f"{name} is not Hermitian")
    trace = float(np.trace(x).real)
    if abs(trace - 1) > STATE_TOL:
        raise ValueError(f"{name} has trace {trace:.12g}; it must be 1")
    if smallest_eigenvalue(x) < -STATE_TOL:
        raise ValueError(f"{name} is not positive semidefinite")
    return x


def smallest_eigenvalue(x: NDArray[np.complex128]) -> float:
    """The smallest eigenvalue of a Hermitian matrix, block by block: the blocks
    are the connected components of its nonzero pattern (a steady state of the
    package's machines is 1 x 1 blocks but for the levels H_int couples)."""
    _, label = connected_components(csr_array(x != 0), directed=False)
    size = np.bincount(label)
    single = size[label] == 1
    out = float(np.diag(x).real[single].min()) if single.any() else np.inf
    for c in np.flatnonzero(size > 1):
        block = np.flatnonzero(label == c)
        out = min(out, float(np.linalg.eigvalsh(x[np.ix_(block, block)]).min()))
    return out


def thermal_start(model: OpenSystem) -> NDArray[np.complex128]:
    """tau_A (x) tau_B at the bath temperatures (D, D)."""
    m = model.machine
    return np.kron(
        thermal_state(m.energies_A, model.T_A), thermal_state(m.energies_B, model.T_B)
    ).astype(complex)


def ground_start(model: OpenSystem) -> NDArray[np.complex128]:
    """Both systems in their lowest level (D, D)."""
    m = model.machine
    a = int(np.argmin(m.energies_A))
    b = int(np.argmin(m.energies_B))
    rho = np.zeros((m.dim, m.dim), dtype=complex)
    rho[m.index(a, b), m.index(a, b)] = 1
    return rho
