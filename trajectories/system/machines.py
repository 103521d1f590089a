"""The machines of the paper, by name (``PRESETS``): the qutrit machine (Eqs. 1-3,
A1), the qudit machine (Eqs. 9-10), the Schmidt machine (Eq. D4), the one-step machine
(Eq. E1) and the qubit-qubit and qubit-qutrit machines (App. G).

Each carries its default filter (Eqs. 5, C10, E2, App. G) and target state (Eqs. 7,
11, D5) in the relabelled basis of ``filters.py``; the type is ``machine.Machine``.
``refilter`` puts another filter and target on a machine (``schmidt_state``: the
targets' form sum_k c_k e^{i phi_k} |k, m-1-k>).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from trajectories.system.checks import (
    STATE_TOL,
    check_coupling,
    check_coupling_strength,
    check_finite_real,
    check_int,
    check_positive,
    check_sequence,
)
from trajectories.system.filters import Filter
from trajectories.system.machine import Machine, Transition


def qudit_energies(
    gaps: Sequence[float],
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Level energies of Eq. 9.

    E^A_k = sum_{l<=k} eps_l and E^B_k = sum_{l<=k} eps_{d-l+1}.
    """
    gaps = [
        check_positive(e, f"gaps[{i}]")
        for i, e in enumerate(check_sequence(gaps, "gaps"))
    ]
    EA = np.concatenate([[0.0], np.cumsum(gaps)])
    EB = np.concatenate([[0.0], np.cumsum(gaps[::-1])])
    return tuple(EA), tuple(EB)


def qudit(
    d: int,
    g: float = 0.01,
    *,
    couplings: Sequence[complex] | None = None,
    gaps: Sequence[float] | None = None,
    eps: float = 1.5,
    g3: complex = 0.0,
) -> Machine:
    """The qudit machine of Eqs. 9-10: two (d+1)-level systems, d >= 2.

    H_int = sum_{k=1}^d g_k |d, 0><k-1, d-k+1| + h.c., with g_k = g/sqrt(2) by default
    (Sec. III). ``gaps`` = (eps_1, ..., eps_d), default (1, eps, ..., eps). The filter
    is Pi_A = 1 - |d><d|, Pi_B = 1 - |0><0| (Eq. C10); the target is |S_d> of Eq. 11, or
    its Schmidt form sum_k g_k^* |k-1, d-k> / ||g|| in the relabelled basis (Eq. D5).
    ``g3`` adds the term g3 |1, d-1><0, d| + h.c. (Eq. A1 for d = 2).
    """
    d = check_int(d, "d", 2)
    if couplings is None:
        couplings = [check_coupling_strength(g, "g") / math.sqrt(2)] * d
    couplings = _entries(couplings, "couplings", d, d, check_coupling)
    if gaps is None:
        gaps = [1.0] + [check_positive(eps, "eps")] * (d - 1)
    gaps = _entries(gaps, "gaps", d, d)
    EA, EB = qudit_energies(gaps)
    trans = [
        Transition((d, 0), (k - 1, d - k + 1), couplings[k - 1])
        for k in range(1, d + 1)
    ]
    if g3 != 0:
        trans.append(Transition((1, d - 1), (0, d), check_coupling(g3, "g3")))
    return Machine(
        EA,
        EB,
        trans,
        filter=Filter.from_levels(d + 1, d + 1, range(d), range(1, d + 1)),
        target=_schmidt_target(couplings),
        name="qudit",
        params={"d": d, "couplings": couplings, "gaps": gaps, "g3": g3},
    )


def _entries(
    values: object,
    name: str,
    d: int,
    size: int,
    check: Callable[[object, str], object] | None = None,
) -> list:
    """The ``size`` entries that machine dimension ``d`` needs from the sequence
    ``values``, each through ``check`` (with its name ``name[k]``)."""
    entries = list(check_sequence(values, name))
    if check is not None:
        entries = [check(v, f"{name}[{k}]") for k, v in enumerate(entries)]
    if len(entries) != size:
        raise ValueError(f"{name} has {_count(entries)}; d={d} needs {size}")
    return entries


def _count(entries: list) -> str:
    """The number of ``entries`` in words: '1 entry', '2 entries'."""
    return f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"


def _schmidt_target(couplings: list[complex]) -> NDArray[np.complex128] | None:
    """sum_k g_k^* |k-1, d-k> / ||g|| in the relabelled basis (Eq. D5), or None
    when g = 0."""
    d = len(couplings)
    norm = np.linalg.norm(couplings)
    if not norm > 0:
        return None
    target = np.zeros(d * d, dtype=complex)
    for k in range(1, d + 1):
        target[(k - 1) * d + (d - k)] = np.conj(couplings[k - 1]) / norm
    return target


def qutrit(
    g: float = 0.01, theta: float = math.pi / 4, eps: float = 1.5, g3: complex = 0.0
) -> Machine:
    """The two-qutrit machine of Eqs. 1-3: g1 = g cos(theta), g2 = g sin(theta).

    Optional g3 |1,1><0,2| + h.c. (Eq. A1). Filter Pi_A = |0><0| + |1><1|,
    Pi_B = |1><1| + |2><2| (Eq. 5); target cos(theta)|0,1> + sin(theta)|1,0> in the
    relabelled basis (Eq. 7 with sin and cos swapped: relabelled |0,1> is |0,2>, fed
    by g1).
    """
    g = check_coupling_strength(g, "g")
    eps = check_positive(eps, "eps")
    theta = check_finite_real(theta, "theta")
    m = qudit(
        2, couplings=[g * math.cos(theta), g * math.sin(theta)], gaps=[1.0, eps], g3=g3
    )
    params = {"g": g, "theta": theta, "eps": eps, "g3": g3}
    return dataclasses.replace(m, name="qutrit", params=params)


def schmidt(
    lambdas: Sequence[float], g: float = 0.01, *, gaps: Sequence[float] | None = None
) -> Machine:
    """The machine of Eq. D4 for target Schmidt coefficients lambda_0..lambda_{d-1}.

    H_int = sum_k g lambda_k |d, 0><k, d-k| + h.c.; the target (Eq. D5) is
    sum_k lambda_k |k, d-1-k> in the relabelled basis (|k, k> up to relabelling B).
    """
    try:
        lam = np.asarray(lambdas, dtype=float)
    except (TypeError, ValueError):
        lam = None
    if (
        lam is None
        or lam.ndim != 1
        or lam.size < 2
        or not np.all(np.isfinite(lam))
        or np.any(lam < 0)
    ):
        raise ValueError(f"lambdas={lambdas!r} must be >= 2 finite numbers >= 0")
    if abs(np.sum(lam**2) - 1.0) > STATE_TOL:
        raise ValueError(
            f"lambdas={lam.tolist()} must satisfy sum lambda^2 = 1, "
            f"got {np.sum(lam**2):.12g}"
        )
    g = check_coupling_strength(g, "g")
    m = qudit(lam.size, couplings=list(g * lam), gaps=gaps)
    params = {"lambdas": list(lam), "g": g, "gaps": m.params["gaps"]}
    return dataclasses.replace(m, name="schmidt", params=params)


def one_step(
    d: int,
    g: float = 1e-3,
    g1: float = 5e-3,
    *,
    couplings: Sequence[float] | None = None,
    gaps: Sequence[float] | None = None,
) -> Machine:
    """The one-step machine of Eq. E1: two d-level systems, unit gaps by default.

    The chain |k, d-1-k> <-> |k+1, d-2-k>, k = 0..d-2 (E1 with the B index read as
    d-1-k, which keeps it inside 0..d-1); couplings default to (g1, g, ..., g) where g1
    is the transition inside the filtered subspace (App. E sets g1 = p_B/2, p_A = g).
    Filter Pi_A = |0><0| + |1><1|, Pi_B = |d-2><d-2| + |d-1><d-1| (Eq. E2). The
    target (|0,1> + i|1,0>)/sqrt(2) carries the phase of the coherence -i eta_d of
    Eq. E3 (<0,1|rho'|1,0> = -i eta_d), so that its fidelity tends to 1/2 + eta_d.
    ``gaps`` = (e_1, ..., e_{d-1}) are the gaps of A and, reversed, of B (Eq. 9 with
    d - 1 gaps), which keeps every transition resonant; default (1, ..., 1).
    """
    d = check_int(d, "d", 3)
    if couplings is None:
        couplings = [check_coupling_strength(g1, "g1")]
        couplings += [check_coupling_strength(g, "g")] * (d - 2)
    couplings = _entries(couplings, "couplings", d, d - 1, check_coupling_strength)
    gaps = _entries([1.0] * (d - 1) if gaps is None else gaps, "gaps", d, d - 1)
    EA, EB = qudit_energies(gaps)
    trans = [
        Transition((k + 1, d - 2 - k), (k, d - 1 - k), couplings[k])
        for k in range(d - 1)
    ]
    target = np.array([0, 1, 1j, 0]) / math.sqrt(2)
    return Machine(
        EA,
        EB,
        trans,
        filter=Filter.from_levels(d, d, [0, 1], [d - 2, d - 1]),
        target=target,
        name="one-step",
        params={"d": d, "couplings": couplings, "gaps": gaps},
    )


def qubit_qubit(g: float = 0.01) -> Machine:
    """The qubit-qubit machine of App. G1: spectra (0, 1), H_int = g|0,1><1,0| + h.c.

    No filter; the reference target is (|0,1> + i|1,0>)/sqrt(2), the phase of the
    steady-state coherence of Eq. G1.
    """
    g = check_coupling_strength(g, "g")
    return Machine(
        (0.0, 1.0),
        (0.0, 1.0),
        [Transition((0, 1), (1, 0), g)],
        target=np.array([0, 1, 1j, 0]) / math.sqrt(2),
        name="qubit-qubit",
        params={"g": g},
    )


def qubit_qutrit(g1: float = 0.01, g2: float = 0.01, keep: str = "upper") -> Machine:
    """The qubit-qutrit machine of Eq. G5: qubit (0, 1), qutrit (0, 1, 2).

    H_int = g1 |0,1><1,0| + g2 |0,2><1,1| + h.c. The qutrit filter keeps its two upper
    levels (``keep="upper"``, G6) or its two lower levels (``keep="lower"``, G8); the
    qubit is not filtered. Reference targets follow the coherence phases of G6 and G8.
    """
    g1 = check_coupling_strength(g1, "g1")
    g2 = check_coupling_strength(g2, "g2")
    if keep not in ("upper", "lower"):
        raise ValueError(f"keep={keep!r} must be 'upper' or 'lower'")
    levels_B = [1, 2] if keep == "upper" else [0, 1]
    phase = -1j if keep == "upper" else 1j
    return Machine(
        (0.0, 1.0),
        (0.0, 1.0, 2.0),
        [Transition((0, 1), (1, 0), g1), Transition((0, 2), (1, 1), g2)],
        filter=Filter.from_levels(2, 3, [0, 1], levels_B),
        target=np.array([0, 1, phase, 0]) / math.sqrt(2),
        name="qubit-qutrit",
        params={"g1": g1, "g2": g2, "keep": keep},
    )


def schmidt_state(
    coefficients: Sequence[float],
    kept_dims: tuple[int, int],
    phases: Sequence[float] | None = None,
) -> NDArray[np.complex128]:
    """sum_k c_k e^{i phi_k} |k, m-1-k> / ||c|| in the relabelled filtered subspace of
    ``kept_dims`` (k_A, k_B), m = min(k_A, k_B): the pairing of the targets of Eqs. 7,
    11 and D5. ``coefficients`` (m numbers >= 0, normalised here) and ``phases`` (m
    angles, default 0).

    >>> schmidt_state([1, 1], (2, 2), [0, math.pi / 2]).round(3).tolist()
    [0j, (0.707+0j), 0.707j, 0j]
    """
    k_A, k_B = kept_dims
    m = min(k_A, k_B)
    c = np.array(_components(coefficients, "target", m, check_coupling_strength))
    if not np.linalg.norm(c) > 0:
        raise ValueError(f"target={c.tolist()} must have a coefficient > 0")
    phi = np.zeros(m)
    if phases is not None:
        phi = np.array(_components(phases, "target_phases", m, check_finite_real))
    psi = np.zeros(k_A * k_B, dtype=complex)
    for k in range(m):
        psi[k * k_B + m - 1 - k] = c[k] * np.exp(1j * phi[k])
    return psi / np.linalg.norm(c)


def _components(
    values: object, name: str, m: int, check: Callable[[object, str], float]
) -> list[float]:
    """The m Schmidt components of a target, each through ``check``."""
    items = check_sequence(values, name)
    entries = [check(v, f"{name}[{k}]") for k, v in enumerate(items)]
    if len(entries) != m:
        raise ValueError(
            f"{name}={list(values)!r} has {_count(entries)}; the kept levels "
            f"need min(k_A, k_B) = {m}"
        )
    return entries


def _components_of(machine: Machine) -> list[complex] | None:
    """The amplitudes of the machine's target on |k, m-1-k> (``schmidt_state``, where
    the targets of ``PRESETS`` live), or None without a target."""
    if machine.target is None:
        return None
    k_A, k_B = machine.filter.kept_dims
    m = min(k_A, k_B)
    return [complex(machine.target[k * k_B + m - 1 - k]) for k in range(m)]


def target_phases(machine: Machine) -> list[float] | None:
    """The phases of the machine's target on |k, m-1-k> (``schmidt_state``), relative
    to the first component with weight; None without a target."""
    amps = _components_of(machine)
    if amps is None:
        return None
    ref = next((a for a in amps if abs(a) > STATE_TOL), 1.0)
    return [float(np.angle(a / ref)) if abs(a) > STATE_TOL else 0.0 for a in amps]


def refilter(
    machine: Machine,
    levels_A: Sequence[int] | None = None,
    levels_B: Sequence[int] | None = None,
    target: str | Sequence[float] = "machine",
    phases: Sequence[float] | None = None,
) -> Machine:
    """The machine with the filter keeping ``levels_A``, ``levels_B`` (None: the
    machine's own levels on that side) and a target state for it, of the form
    sum_k c_k e^{i phi_k} |k, m-1-k> on the relabelled kept levels
    (``schmidt_state``, the form of the targets of Eqs. 7, 11, D5, E3).

    ``target`` gives the c_k: "machine" keeps the machine's target on its own
    levels (its |c_k|, with ``phases`` if given), and on other levels means
    "max-entangled", c_k = 1 (the maximally entangled state); a list gives them.
    The phases phi_k are ``phases`` if given, else those of the machine's target
    when the kept dimensions are the machine's (e.g. the i of the one-step machine,
    Eq. E3), else 0. Without any override the machine itself is returned.
    """
    own = machine.filter.levels()
    if own is None:
        raise ValueError("the machine's filter is not diagonal; it keeps no levels")
    levels = (
        own[0] if levels_A is None else list(levels_A),
        own[1] if levels_B is None else list(levels_B),
    )
    same = [sorted(x) for x in levels] == [sorted(x) for x in own]
    if same and target == "machine" and phases is None:
        return machine
    filt = Filter.from_levels(*machine.dims, *levels)
    kept = filt.kept_dims
    if phases is None and kept == machine.filter.kept_dims:
        phases = target_phases(machine)
    amps = _components_of(machine)
    if isinstance(target, str):
        keep_own = same and target == "machine" and amps is not None
        target = [abs(a) for a in amps] if keep_own else [1.0] * min(kept)
    return dataclasses.replace(
        machine, filter=filt, target=schmidt_state(target, kept, phases)
    )


PRESETS = {
    "qutrit": qutrit,
    "qudit": qudit,
    "schmidt": schmidt,
    "one-step": one_step,
    "qubit-qubit": qubit_qubit,
    "qubit-qutrit": qubit_qutrit,
}
"""Preset machine constructors by name."""
