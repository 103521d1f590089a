"""Seals of a run's batch records: what a finished batch is, and how a damaged,
foreign or stale one is told apart from it.

A batch is finished when its seal ``batches/<name>.seal.json`` exists: written last,
atomically, after its tables, it holds each table's row count and SHA-256, the
package version that wrote it and the digest of the resolved config. A batch file
is trusted only if its bytes hash to the sealed value and its rows carry the batch's
own grid point, batch index and trajectories (so a copy of another batch, sealed
or not, is caught); anything else is damaged and is recomputed by ``--resume``.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from trajectories.pipeline.schema import ConfigError


class RecordError(ConfigError):
    """Records that do not match their seal (the message names the batch, why, and
    how to recompute it)."""

    def __init__(self, batch: str, run_dir: str, reason: str) -> None:
        self.batch, self.reason = batch, reason
        super().__init__(
            f"batch {batch} of {run_dir}: {reason}; recompute it with: "
            f"python -m trajectories.run --out {run_dir} --resume"
        )


def config_digest(config: Mapping[str, Any]) -> str:
    """SHA-256 of the resolved config as canonical JSON."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def make_seal(
    blobs: Mapping[str, bytes],
    frames: Mapping[str, pd.DataFrame],
    version: str,
    digest: str,
) -> dict[str, Any]:
    """The seal of a batch from the bytes written for each table."""
    return {
        "rows": {t: len(frames[t]) for t in blobs},
        "sha256": {t: hashlib.sha256(b).hexdigest() for t, b in blobs.items()},
        "version": version,
        "config": digest,
    }


def seal_problem(seal: Any, digest: str, tables: tuple[str, ...]) -> str | None:
    """Why a seal cannot vouch for a batch of this run, or None."""
    if not isinstance(seal, dict) or not all(
        isinstance(seal.get(k), dict) for k in ("rows", "sha256")
    ):
        return "its seal is damaged"
    if set(seal["sha256"]) != set(tables):
        return "its seal lists other tables"
    if seal.get("config") != digest:
        return "it was written for another config"
    return None


def read_table(blob: bytes, sha256: str, rows: int) -> pd.DataFrame | str:
    """The table in ``blob`` if it hashes to ``sha256`` and has ``rows`` rows, else
    the reason it does not."""
    if hashlib.sha256(blob).hexdigest() != sha256:
        return "does not match its checksum"
    frame = pd.read_parquet(io.BytesIO(blob))
    if len(frame) != rows:
        return f"has {len(frame)} rows, sealed {rows}"
    return frame


def content_problem(
    frames: Mapping[str, pd.DataFrame], point: int, index: int, start: int, size: int
) -> str | None:
    """Why the tables are not those of batch ``index`` of grid point ``point``
    (machines ``start .. start + size - 1``), or None."""
    for name, frame in frames.items():
        if len(frame) and not (
            (frame["point"] == point).all() and (frame["batch"] == index).all()
        ):
            return f"its {name} table belongs to another batch"
    traj = frames["runs"]["trajectory"].to_numpy()
    if len(traj) != size or (
        size and (traj.min(), traj.max()) != (start, start + size - 1)
    ):
        return "its runs table holds other machines"
    return None
