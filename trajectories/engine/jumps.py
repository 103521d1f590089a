"""Which channel jumps, and the state after the jump.

The channel of a jump is drawn with probability proportional to ||L_k psi||^2 and the
state becomes L_k psi / ||L_k psi||. The event loop uses the fused kernel
``jump_states`` (the choice in two stages, equal in law to the choice by
``channel_weights``, and the jump, normalised with the weight of the chosen channel);
``channel_weights``, ``choose_channels`` and ``apply_jumps`` are its reference
definitions.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from trajectories.engine.unravelling import Unravelling


def channel_weights(
    unr: Unravelling, psi: NDArray[np.complex128]
) -> NDArray[np.float64]:
    """||L_k psi||^2 for every channel k and state psi (n, D): array (n, K)."""
    d_A, d_B = unr.dims
    p = np.abs(psi.reshape(-1, d_A, d_B)) ** 2
    pops = (p.sum(axis=2), p.sum(axis=1))  # local populations of A and B
    ch = unr.channels
    W = np.empty((psi.shape[0], len(ch)))
    for side in (0, 1):
        mask = ch.bath == side
        W[:, mask] = pops[side][:, ch.frm[mask]] * ch.rate[mask]
    return W


def choose_channels(
    weights: NDArray[np.float64], u: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Inverse-CDF choice: the k with cum_{k-1} <= u * total < cum_k, per row."""
    cum = np.cumsum(weights, axis=1)
    k = (cum < (u * cum[:, -1])[:, None]).sum(axis=1)
    return np.minimum(k, weights.shape[1] - 1)


def apply_jumps(
    unr: Unravelling, psi: NDArray[np.complex128], k: NDArray[np.int64]
) -> NDArray[np.complex128]:
    """Normalised L_k psi / ||L_k psi|| for channel k of each state (n, D)."""
    d_A, d_B = unr.dims
    n = psi.shape[0]
    p3 = psi.reshape(n, d_A, d_B)
    out = np.zeros_like(p3)
    ch = unr.channels
    for side in (0, 1):
        idx = np.flatnonzero(ch.bath[k] == side)
        to, frm = ch.to[k[idx]], ch.frm[k[idx]]
        if side == 0:
            out[idx, to, :] = p3[idx, frm, :]
        else:
            out[idx, :, to] = p3[idx, :, frm]
    out = out.reshape(n, d_A * d_B)
    return out / np.linalg.norm(out, axis=1)[:, None]


def jump_states(
    unr: Unravelling,
    psi: NDArray[np.complex128],
    u: NDArray[np.float64],
    pq: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.complex128], NDArray[np.int64]]:
    """Draw a channel k for each state psi (n, D) with probability
    ||L_k psi||^2 / sum_k ||L_k psi||^2 and apply it: the states L_k psi / ||L_k psi||
    and k. Equal in law to ``choose_channels(channel_weights(...))`` then
    ``apply_jumps``, in two stages (``channels.JumpTables``): the source with the
    uniforms u[:, 0], then the channel with u[:, 1] (u in [0, 1)). The norm of L_k psi
    comes from the population of the source level, not from a separate norm.

    ``psi`` must be C-contiguous; ``pq`` is |psi|^2 @ ``jump_tables.pick`` if already
    computed. A state of total weight 0 gets a non-finite result.
    """
    tab = unr.jump_tables
    S = tab.n_src
    n, D = psi.shape
    if pq is None:
        pq = (psi.real**2 + psi.imag**2) @ tab.pick
    v = u[:, 0] * pq[:, S - 1]
    g = (pq[:, 0] <= v).astype(np.intp)
    for q in range(1, S - 1):
        g += pq[:, q] <= v
    Q = tab.cdf.shape[1]
    if Q > 1:
        cdf = np.take(tab.cdf, g, axis=0)
        q2 = (cdf[:, 0] <= u[:, 1]).astype(np.intp)
        for q in range(1, Q - 1):
            q2 += cdf[:, q] <= u[:, 1]
        k = np.take(tab.chan.ravel(), g * Q + q2)
    else:
        k = np.take(tab.chan[:, 0], g)
    rows = np.arange(n)
    pop = np.take(pq.ravel(), rows * pq.shape[1] + (S + g))
    base = (rows * D)[:, None]
    vals = np.take(psi.ravel(), base + np.take(tab.src, g, axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        vals *= (1.0 / np.sqrt(pop))[:, None]
    out = np.zeros((n, D), dtype=complex)
    out.ravel()[base + np.take(tab.dst, k, axis=0)] = vals
    return out, k
