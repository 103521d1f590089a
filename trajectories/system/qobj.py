"""QuTiP both ways: arrays as ``qutip.Qobj`` with a machine's dims, and Qobjs read
as arrays with their dims checked.

Dims follow QuTiP's tensor order, the basis convention of ``filters.py`` (flat index
``a * d_B + b``): states and operators of a machine have dims ``[[d_A, d_B], [d_A,
d_B]]`` (kets ``[[d_A, d_B], [1]]``), rho' those of the filtered subspace ``[[k_A,
k_B], [k_A, k_B]]``, local operators (H_A, a filter Pi_A) ``[[d], [d]]``.

Reading a Qobj needs no qutip import (``analysis.qobj.is_qobj``); ``to_qobj``
imports qutip when first called, so that ``import trajectories`` (and every worker
process of a run) does not pay qutip's import time of about 1 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analysis.qobj import is_qobj, qobj_array

if TYPE_CHECKING:
    from qutip import Qobj

__all__ = ["from_qobj", "is_qobj", "local_operator", "to_qobj"]


def to_qobj(x: ArrayLike, dims: Sequence[int]) -> Any:
    """A state vector (D,), an operator (D, D) or a stack of them (n, D, D) as a
    Qobj (a list of Qobjs) on systems of dimensions ``dims`` (e.g. (3, 3))."""
    import qutip

    local = [int(d) for d in dims]
    arr = np.asarray(x, dtype=complex)
    D = int(np.prod(local))
    if arr.ndim == 3 and arr.shape[1:] == (D, D):
        return [qutip.Qobj(a, dims=[local, local]) for a in arr]
    if arr.shape == (D, D):
        return qutip.Qobj(arr, dims=[local, local])
    if arr.shape == (D,):
        return qutip.Qobj(arr[:, None], dims=[local, [1] * len(local)])
    raise ValueError(
        f"an array of shape {arr.shape} is not a state or operator on systems "
        f"{tuple(local)}: expected ({D},), ({D}, {D}) or (n, {D}, {D})"
    )


def from_qobj(
    x: ArrayLike | Qobj, dims: Sequence[int], name: str, kind: str = "state"
) -> ArrayLike:
    """``x`` itself, or, for a Qobj, its array (D, D) or (D,) once its dims are
    those of systems ``dims`` and its type ``kind`` ("oper", "ket" or "state":
    either); else ValueError naming ``name``, its dims and the expected dims."""
    if not is_qobj(x):
        return x
    return qobj_array(x, name, dims, kind)


def local_operator(
    x: ArrayLike | Qobj, name: str, d: int | None = None
) -> NDArray[np.complex128]:
    """A square matrix (d, d), from an array or a Qobj on one system (dims [[d],
    [d]], d the Qobj's own size unless given)."""
    if is_qobj(x):
        return qobj_array(x, name, [x.shape[0] if d is None else d], "oper")
    try:
        arr = np.asarray(x, dtype=complex)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={x!r} must be a square numeric matrix") from None
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.size == 0:
        raise ValueError(f"{name} has shape {arr.shape}; it must be a square matrix")
    return arr
