"""The run directory: manifest, atomically written batch records, summaries.

manifest.json     resolved config, seed, versions, start/end times, batch list
batches/*.parquet per-batch records (attempts and runs tables), each written to a
                  temporary file and renamed, so a batch file is complete or absent
summary.json      one object per grid point (estimates, SEs, exact values, z)
summary.csv       the same, one row per grid point
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from trajectories.pipeline.batches import Batch
from trajectories.pipeline.config import (
    ConfigError,
    RunConfig,
    parse_override,
    validate,
)

TABLES = ("attempts", "runs", "states")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("trajectories", "numpy", "scipy", "qutip", "pandas", "joblib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _json_value(v: Any) -> Any:
    """JSON-ready: non-finite floats as null, lists of records cleaned too."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, list):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items()}
    return v


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Keys whose values differ between two nested dicts."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += _diff(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [] if a == b else [f"{prefix.rstrip('.')} ({a!r} -> {b!r})"]


class RunDirectory:
    """Files of one run."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.batch_dir = self.path / "batches"
        self.manifest_path = self.path / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        """The manifest (raises ConfigError if there is none)."""
        if not self.manifest_path.exists():
            raise ConfigError(f"--out {self.path}: no manifest.json, nothing to resume")
        return json.loads(self.manifest_path.read_text())

    def load_config(self, overrides: tuple[str, ...] = ()) -> RunConfig:
        """The config recorded in the manifest (for --resume without a config)."""
        data = self.manifest()["config"]
        for item in overrides:
            key, value = parse_override(item)
            section, name = key.split(".", 1)
            data.setdefault(section, {})[name] = value
        return validate(data)

    def prepare(self, config: RunConfig, batches: list[Batch], *, resume: bool) -> None:
        """Create the directory and manifest, or check them when resuming."""
        data = json.loads(json.dumps(config.to_dict()))
        if self.manifest_path.exists():
            old = self.manifest()
            if not resume:
                state = "a finished" if old.get("finished") else "an unfinished"
                raise ConfigError(
                    f"--out {self.path} already holds {state} run; use --resume to "
                    "complete it, or choose another --out"
                )
            changed = _diff(old["config"], data)
            if changed:
                raise ConfigError(
                    f"--resume with a different config; changed keys: "
                    f"{', '.join(changed)}"
                )
            if old.get("finished"):
                raise ConfigError(f"--out {self.path}: the run is already finished")
            old["resumed"] = [*old.get("resumed", []), _now()]
            _atomic_write_text(self.manifest_path, json.dumps(old, indent=2))
            return
        if resume:
            raise ConfigError(f"--resume: {self.path} has no run to resume")
        self.batch_dir.mkdir(parents=True, exist_ok=True)
        manifest = {
            "config": data,
            "seed": config.sampling.seed,
            "versions": _versions(),
            "started": _now(),
            "finished": None,
            "batches": [
                {
                    "point": b.point,
                    "index": b.index,
                    "start": b.start,
                    "size": b.size,
                    "file": b.name,
                }
                for b in batches
            ],
        }
        _atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2))

    def _file(self, batch: Batch, table: str) -> Path:
        return self.batch_dir / f"{batch.name}_{table}.parquet"

    def has_batch(self, batch: Batch) -> bool:
        """Whether every table of the batch is on disk."""
        return all(self._file(batch, t).exists() for t in TABLES)

    def write_batch(self, batch: Batch, records: dict[str, pd.DataFrame]) -> None:
        """Write the batch tables, each atomically (temporary file, then rename)."""
        self.batch_dir.mkdir(parents=True, exist_ok=True)
        for table in TABLES:
            path = self._file(batch, table)
            tmp = path.with_name(f".{path.name}.tmp")
            records[table].to_parquet(tmp, index=False)
            os.replace(tmp, path)

    def iter_batches(self, point: int) -> Iterator[dict[str, pd.DataFrame]]:
        """The tables (``TABLES``) of each batch of a grid point, one at a time."""
        runs = sorted(self.batch_dir.glob(f"p{point:03d}_*_runs.parquet"))
        if not runs:
            raise ConfigError(f"{self.path}: no records of grid point {point}")
        for path in runs:
            stem = path.name.removesuffix("_runs.parquet")
            yield {
                t: pd.read_parquet(self.batch_dir / f"{stem}_{t}.parquet")
                for t in TABLES
            }

    def finish(self, rows: list[dict[str, Any]]) -> None:
        """Write summary.json, summary.csv and steady_state.csv (the sampled steady
        state element by element, one row per grid point, estimator and element) and
        mark the manifest finished."""
        clean = [{k: _json_value(v) for k, v in r.items()} for r in rows]
        _atomic_write_text(self.path / "summary.json", json.dumps(clean, indent=2))
        nested = "steady_state_elements"
        flat = [{k: v for k, v in r.items() if k != nested} for r in rows]
        pd.DataFrame(flat).to_csv(self.path / "summary.csv", index=False)
        elements = [
            pd.DataFrame(r[nested]).assign(point=p)
            for p, r in enumerate(rows)
            if r.get(nested)
        ]
        if elements:
            pd.concat(elements).to_csv(self.path / "steady_state.csv", index=False)
        manifest = self.manifest()
        manifest["finished"] = _now()
        _atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2))
