"""QuTiP objects as input: a ``qutip.Qobj`` read as an array, its dims checked.

A value is a Qobj when it is an instance of ``qutip.Qobj``, looked up in
``sys.modules``: a Qobj cannot exist unless qutip has been imported, so accepting
one costs nothing to those who never import qutip (importing it takes about 1 s, and
every worker process of a run would pay it). ``trajectories.system.qobj`` checks the
dims against a machine with the same rule.

Dims follow QuTiP: an operator on systems of dimensions (d_A, d_B) has dims
``[[d_A, d_B], [d_A, d_B]]``, a ket ``[[d_A, d_B], [1]]`` (or ``[1, 1]``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

KINDS = ("oper", "ket", "state")
"""What a Qobj may be: an operator, a ket, or either ("state")."""


def is_qobj(value: object) -> bool:
    """Whether ``value`` is a ``qutip.Qobj`` (without importing qutip)."""
    qutip = sys.modules.get("qutip")
    return qutip is not None and isinstance(value, qutip.Qobj)


def expected_dims(local: Sequence[int], kind: str = "oper") -> str:
    """The QuTiP dims of an operator (or ket, or either) on systems ``local``."""
    d = [int(x) for x in local]
    oper, ket = f"{[d, d]}", f"{[d, [1]]}"
    return {"oper": oper, "ket": ket, "state": f"{oper} or {ket}"}[kind]


def qobj_array(
    value: Any, name: str, local: Sequence[int] | None = None, kind: str = "state"
) -> NDArray[np.complex128]:
    """The array of a Qobj operator (D, D) or ket (D,), of the given ``kind``; with
    ``local``, its dims must be those of systems ``local`` (ValueError naming
    ``name``, its dims and the expected dims).
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} must be one of {KINDS}")
    dims = value.dims
    is_ket = bool(value.isket)
    is_oper = bool(value.isoper)
    kind_ok = (is_ket and kind != "oper") or (is_oper and kind != "ket")
    if local is None:
        left = dims[0]
        ok = kind_ok and (is_ket or dims[1] == left)
        local = left
    else:
        local = [int(x) for x in local]
        ok = kind_ok and dims[0] == local and (dims[1] == local if is_oper else True)
    if not ok:
        raise ValueError(
            f"{name} has dims {dims} (type {value.type}); expected "
            f"{expected_dims(local, kind)}"
        )
    full = np.asarray(value.full(), dtype=complex)
    return full[:, 0] if is_ket else full


def bipartite_dims(value: Any, name: str) -> tuple[int, int]:
    """(d_A, d_B) of a Qobj operator or ket on two systems; ValueError otherwise."""
    dims = value.dims
    left = dims[0]
    square = bool(value.isket) or (bool(value.isoper) and dims[1] == left)
    if not square or len(left) != 2:
        D = max(value.shape)
        raise ValueError(
            f"{name} has dims {dims} (type {value.type}); expected two systems, "
            f"[[d_A, d_B], [d_A, d_B]] or [[d_A, d_B], [1]] with d_A d_B = {D}"
        )
    return int(left[0]), int(left[1])
