"""The jump channels of a model and the tables of the two-stage channel choice.

Every jump operator of the package's models is local and has one nonzero element,
``L = c |i><j|`` on system A or B (the Kraus jumps sqrt(p w_i)|i><j| of the reset model,
Eq. 4, and the thermal and dephasing jumps of Eqs. F9-F12): ``Channels`` lists them,
``Channels.decay`` is the diagonal of G = sum_k L_k^dag L_k, and ``JumpTables`` holds
what the fused jump kernel (``jumps.jump_states``) reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from trajectories.system.models import OpenSystem


@dataclass(frozen=True, eq=False)
class Channels:
    """Local one-element jumps L_k = sqrt(rate_k) |to_k><frm_k| on side ``bath_k``."""

    names: tuple[str, ...]
    bath: NDArray[np.int64]  # 0 = A, 1 = B
    to: NDArray[np.int64]
    frm: NDArray[np.int64]
    rate: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.names)

    def decay(self, dims: tuple[int, int]) -> NDArray[np.float64]:
        """The diagonal of G = sum_k L_k^dag L_k in the joint basis, (D,)."""
        G = np.zeros(dims)
        for b, j, r in zip(self.bath, self.frm, self.rate, strict=True):
            if b == 0:
                G[j, :] += r
            else:
                G[:, j] += r
        return G.ravel()


def local_channels(model: OpenSystem) -> Channels:
    """The channels of ``model``; ValueError if a jump is not local with one
    nonzero element."""
    d_A, d_B = model.machine.dims
    names, bath, to, frm, rate = [], [], [], [], []
    for op in model.jump_operators():
        side = 0 if op.bath == "A" else 1
        i = op.rows[0] // d_B if side == 0 else op.rows[0] % d_B
        j = op.cols[0] // d_B if side == 0 else op.cols[0] % d_B
        c = op.vals[0]
        local = np.zeros((d_A, d_A) if side == 0 else (d_B, d_B), dtype=complex)
        local[i, j] = c
        full = sp.kron(local, sp.eye(d_B)) if side == 0 else sp.kron(sp.eye(d_A), local)
        if not _same_operator(op.op, full):
            raise ValueError(f"jump {op.name!r} is not a local single-element operator")
        names.append(op.name)
        bath.append(side)
        to.append(i)
        frm.append(j)
        rate.append(abs(c) ** 2)
    return Channels(
        tuple(names),
        np.array(bath, dtype=np.int64),
        np.array(to, dtype=np.int64),
        np.array(frm, dtype=np.int64),
        np.array(rate, dtype=float),
    )


def _same_operator(A: sp.spmatrix, B: sp.spmatrix) -> bool:
    """``np.allclose(A, B, atol=0)`` of sparse matrices, without dense copies."""
    excess = (abs(A - B) - 1e-5 * abs(B)).tocoo()
    return bool(np.all(excess.data <= 0))


@dataclass(frozen=True, eq=False)
class JumpTables:
    """Tables of the two-stage channel choice and of the jump action.

    A channel L_k = sqrt(rate_k) |to><frm| on one side has ||L_k psi||^2 = rate_k
    P_side(frm), with P_side the local population. Its *source* is (side, frm): there
    are S = d_A + d_B sources, source s of weight out_s P_side(frm) (out_s the summed
    rate of its channels), and given the source, channel k has probability
    rate_k / out_s whatever the state. Drawing the source, then the channel, is the
    choice with probability ||L_k psi||^2 / sum_k ||L_k psi||^2.
    """

    n_src: int
    pick: NDArray[np.float64]  # (D, 2 S + 1): cumulative weights | populations | 1
    cdf: NDArray[np.float64]  # (S, Q): cumulative channel probabilities per source
    chan: NDArray[np.int64]  # (S, Q): the channels of each source
    src: NDArray[np.int64]  # (S, L): joint-basis indices read by a jump of source s
    dst: NDArray[np.int64]  # (K, L): joint-basis indices written by channel k

    @classmethod
    def build(cls, dims: tuple[int, int], ch: Channels) -> JumpTables:
        """Tables for local dimensions ``dims`` and channels ``ch``."""
        d_A, d_B = dims
        D, S = d_A * d_B, d_A + d_B
        source = np.where(ch.bath == 0, ch.frm, d_A + ch.frm)
        out = np.bincount(source, weights=ch.rate, minlength=S)
        pops = np.zeros((D, S))
        a, b = np.divmod(np.arange(D), d_B)
        pops[np.arange(D), a] = 1.0
        pops[np.arange(D), d_A + b] = 1.0
        cum = (pops * out) @ np.triu(np.ones((S, S)))
        pick = np.hstack([cum, pops, np.ones((D, 1))])
        cdf, chan = _channels_by_source(ch, source, S)
        # a jump of side A from level j reads row j of psi (d_A, d_B) and writes row
        # to; side B reads and writes columns. Index lists are padded to L entries
        # by repeating their last one (the same value is written twice).
        L = max(d_A, d_B)

        def line(side: int, level: int) -> NDArray[np.int64]:
            idx = level * d_B + np.arange(d_B) if side == 0 else np.arange(d_A) * d_B
            idx = idx if side == 0 else idx + level
            return np.concatenate([idx, np.full(L - idx.size, idx[-1])])

        src = np.array(
            [line(0, j) for j in range(d_A)] + [line(1, j) for j in range(d_B)]
        )
        dst = np.array(
            [line(int(b), int(i)) for b, i in zip(ch.bath, ch.to, strict=True)]
        ).reshape(len(ch), L)
        return cls(S, pick, cdf, chan, src, dst)


def _channels_by_source(
    ch: Channels, source: NDArray[np.int64], S: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """(cdf, chan) of ``JumpTables``: per source, the cumulative probabilities of its
    channels and the channels, padded with 1 and the last channel."""
    members = [np.flatnonzero(source == s) for s in range(S)]
    Q = max(1, *(k.size for k in members))
    cdf, chan = np.ones((S, Q)), np.zeros((S, Q), dtype=np.int64)
    for s, k in enumerate(members):
        if k.size:
            total = ch.rate[k].sum()
            c = np.cumsum(ch.rate[k]) / total if total > 0 else np.ones(k.size)
            c[-1] = 1.0
            cdf[s, : k.size], chan[s, : k.size], chan[s, k.size :] = c, k, k[-1]
    return cdf, chan
