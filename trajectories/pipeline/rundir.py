"""The run directory: manifest, atomically written batch records, summaries.

manifest.json     resolved config, seed, versions, start/end times, batch list (at
                  the end with each batch's rows, checksums and writing version)
batches/*.parquet per-batch records (attempts, runs and states tables), each written
                  to a temporary file and renamed, so a batch file is complete or
                  absent
batches/*.seal.json  the seal of each finished batch (``integrity``), written last
summary.json      one object per grid point (estimates, SEs, exact values, z)
summary.csv       the same, one row per grid point
.lock             held by the process working on the run (``filelock``); its pid,
                  host and start time in ``.lock.holder``

Every batch file is checked against its seal before it is read, and ``--resume``
recomputes the batches whose files are missing, damaged or foreign.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import platform
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from trajectories.pipeline.batches import Batch
from trajectories.pipeline.config import (
    ConfigError,
    RunConfig,
    apply_overrides,
    validate,
)
from trajectories.pipeline.integrity import (
    RecordError,
    config_digest,
    content_problem,
    make_seal,
    read_table,
    seal_problem,
)

TABLES = ("attempts", "runs", "states")
LOCK = ".lock"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@cache
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


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file of this process, flush to disk, then rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # none, or no pid at all
        return False
    except PermissionError:  # another user's
        return True
    return True


def _atomic_write_text(path: Path, text: str) -> None:
    _atomic_write_bytes(path, text.encode("utf-8"))


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
        self.damaged: dict[str, str] = {}
        """Batches found damaged by the last ``prepare(resume=True)``, with why."""

    def manifest(self) -> dict[str, Any]:
        """The manifest; ConfigError if there is none or it is damaged."""
        if not self.manifest_path.exists():
            raise ConfigError(f"--out {self.path}: no manifest.json, nothing to resume")
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ConfigError(
                f"{self.manifest_path} is damaged ({type(err).__name__}: {err}); "
                "start a new run with another --out"
            ) from None
        missing = (
            [k for k in ("config", "batches", "versions") if k not in data]
            if (isinstance(data, dict))
            else ["config"]
        )
        if not missing and not isinstance(data["config"], dict):
            missing = ["config table"]
        if missing:
            raise ConfigError(
                f"{self.manifest_path} is damaged (no {missing[0]!r}); start a new "
                "run with another --out"
            )
        return data

    @cached_property
    def config_sha256(self) -> str:
        """The digest of the run's config (``integrity.config_digest``), read from
        the manifest once, not once per batch (set by ``prepare`` for a new run, so
        that the workers it is pickled to do not read it either)."""
        return config_digest(self.manifest()["config"])

    def load_config(self, overrides: tuple[str, ...] = ()) -> RunConfig:
        """The config recorded in the manifest (for --resume without a config)."""
        return validate(apply_overrides(self.manifest()["config"], overrides))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the run's lock (created with the directory if need be): a second
        process on the same directory gets a ConfigError naming the holder. A
        directory created here and left empty is removed on the way out, with the
        parents created for it."""
        created = self._make_directory()
        lock = FileLock(self.path / LOCK, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise ConfigError(
                f"--out {self.path} is in use by {self._holder()}; "
                "wait for it to finish or choose another --out"
            ) from None
        holder = self.path / f"{LOCK}.holder"
        try:
            _atomic_write_text(
                holder,
                json.dumps(
                    {"pid": os.getpid(), "host": platform.node(), "since": _now()}
                ),
            )
            yield
        finally:
            holder.unlink(missing_ok=True)
            lock.release()
            if created is not None and not any(
                p.name not in (LOCK, f"{LOCK}.holder") for p in self.path.iterdir()
            ):
                shutil.rmtree(created, ignore_errors=True)
            elif not self.manifest_path.exists():  # a directory of the user's
                (self.path / LOCK).unlink(missing_ok=True)

    def _make_directory(self) -> Path | None:
        """Create the run directory; the first directory created for it (itself or
        a parent), None if it existed. ConfigError if ``--out`` is a file or lies
        inside one."""
        for parent in (self.path, *self.path.parents):
            if parent.exists() and not parent.is_dir():
                raise ConfigError(
                    f"--out {self.path}: {parent} is a file, not a directory"
                )
        missing = [p for p in (self.path, *self.path.parents) if not p.exists()]
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(
                f"--out {self.path}: cannot create it ({err.strerror})"
            ) from None
        return missing[-1] if missing else None

    def _holder(self) -> str:
        try:
            info = json.loads((self.path / f"{LOCK}.holder").read_text())
            return (
                f"another run (pid {info['pid']} on {info['host']}, since "
                f"{info['since']})"
            )
        except (OSError, ValueError, KeyError, TypeError):
            return "another run"

    def prepare(self, config: RunConfig, batches: list[Batch], *, resume: bool) -> None:
        """Create the manifest (in a new or empty directory), or check it when
        resuming (same config, same package version); a finished run is reopened only
        if some batch is damaged."""
        data = json.loads(json.dumps(config.to_dict()))
        if self.manifest_path.exists():
            self._reopen(data, batches, resume)
            return
        if resume:
            raise ConfigError(f"--resume: {self.path} has no run to resume")
        other = sorted(
            p.name
            for p in self.path.iterdir()
            if p.name not in (LOCK, f"{LOCK}.holder")
        )
        if other:
            raise ConfigError(
                f"--out {self.path} holds no run but other files ({other[0]!r}"
                f"{', ...' if len(other) > 1 else ''}); choose a new or empty directory"
            )
        self.batch_dir.mkdir(parents=True, exist_ok=True)
        self.config_sha256 = config_digest(data)
        manifest = {
            "config": data,
            "config_sha256": self.config_sha256,
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

    def discard(self) -> None:
        """Remove what ``prepare`` wrote, for a new run that finished no batch (a
        directory that ``locked`` created goes with the lock)."""
        self.manifest_path.unlink(missing_ok=True)
        shutil.rmtree(self.batch_dir, ignore_errors=True)

    def _reopen(self, data: dict[str, Any], batches: list[Batch], resume: bool) -> None:
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
                f"--resume with a different config; changed keys: {', '.join(changed)}"
            )
        written, this = old["versions"].get("trajectories"), _versions()["trajectories"]
        if written != this:
            raise ConfigError(
                f"--resume: the run was written by trajectories {written}, this is "
                f"{this}; one run never mixes versions: choose another --out"
            )
        self.damaged = self.verify(batches)
        if old.get("finished") and not self.damaged:
            raise ConfigError(f"--out {self.path}: the run is already finished")
        self._remove_leftovers()
        old["finished"] = None
        old["resumed"] = [*old.get("resumed", []), _now()]
        _atomic_write_text(self.manifest_path, json.dumps(old, indent=2))

    def _remove_leftovers(self) -> None:
        """Remove the temporary files of writes that never finished
        (``_atomic_write_bytes``: ``.NAME.PID.tmp``, never read as records) whose
        writer has ended: a process killed mid-write. A live writer's (a worker
        orphaned by a ``kill -9`` of its run, for the ~0.5 s it lives on) is left
        alone, as are files of other names (the report's)."""
        for folder in (self.path, self.batch_dir):
            for tmp in folder.glob(".*.*.tmp"):
                pid = tmp.name.rsplit(".", 2)[-2]
                if pid.isdigit() and not _alive(int(pid)):
                    tmp.unlink(missing_ok=True)

    def _file(self, batch: Batch, table: str) -> Path:
        return self.batch_dir / f"{batch.name}_{table}.parquet"

    def _seal_path(self, batch: Batch) -> Path:
        return self.batch_dir / f"{batch.name}.seal.json"

    def has_batch(self, batch: Batch) -> bool:
        """Whether the batch is finished (sealed)."""
        return self._seal_path(batch).exists()

    def write_batch(self, batch: Batch, records: dict[str, pd.DataFrame]) -> None:
        """Write the batch tables, each atomically (temporary file, then rename),
        then its seal."""
        self.batch_dir.mkdir(parents=True, exist_ok=True)
        blobs = {}
        for table in TABLES:
            buffer = io.BytesIO()
            records[table].to_parquet(buffer, index=False)
            blobs[table] = buffer.getvalue()
            _atomic_write_bytes(self._file(batch, table), blobs[table])
        seal = make_seal(
            blobs, records, _versions()["trajectories"], self.config_sha256
        )
        _atomic_write_text(self._seal_path(batch), json.dumps(seal))

    def verify(self, batches: list[Batch]) -> dict[str, str]:
        """Check every sealed batch's files; unseal the damaged or foreign ones (so
        they are recomputed) and return why, by batch name."""
        damaged = {}
        for batch in batches:
            if not self.has_batch(batch):
                continue
            try:
                self.read_batch(batch)
            except RecordError as err:
                damaged[batch.name] = err.reason
                self._seal_path(batch).unlink(missing_ok=True)
        return damaged

    def read_batch(self, batch: Batch) -> dict[str, pd.DataFrame]:
        """The batch's tables, checked against its seal; RecordError otherwise."""
        try:
            seal = json.loads(self._seal_path(batch).read_text())
        except (OSError, ValueError):
            seal = None
        problem = seal_problem(seal, self.config_sha256, TABLES)
        frames: dict[str, pd.DataFrame] = {}
        for table in TABLES if problem is None else ():
            try:
                blob = self._file(batch, table).read_bytes()
            except OSError:
                problem = f"its {table} file is missing"
                break
            frame = read_table(blob, seal["sha256"][table], seal["rows"][table])
            if isinstance(frame, str):
                problem = f"its {table} file {frame}"
                break
            frames[table] = frame
        problem = problem or content_problem(
            frames, batch.point, batch.index, batch.start, batch.size
        )
        if problem:
            raise RecordError(batch.name, str(self.path), problem)
        return frames

    def iter_batches(self, point: int) -> Iterator[dict[str, pd.DataFrame]]:
        """The tables (``TABLES``) of each batch of a grid point, one at a time, each
        checked against its seal; RecordError for a missing or damaged one."""
        for batch in self.batches_of(point):
            yield self.read_batch(batch)

    def batches_of(self, point: int) -> list[Batch]:
        """The batches of a grid point, in the manifest's order."""
        batches = [
            Batch(b["point"], b["index"], b["start"], b["size"])
            for b in self.manifest()["batches"]
            if b["point"] == point
        ]
        if not batches:
            raise ConfigError(f"{self.path}: no records of grid point {point}")
        return batches

    def finish(self, rows: list[dict[str, Any]]) -> None:
        """Write summary.json, summary.csv and steady_state.csv (the sampled steady
        state element by element, one row per grid point, estimator and element) and
        mark the manifest finished, with the seal of every batch."""
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
        for entry in manifest["batches"]:
            seal = json.loads(
                (self.batch_dir / f"{entry['file']}.seal.json").read_text()
            )
            entry.update(
                rows=seal["rows"], sha256=seal["sha256"], version=seal["version"]
            )
        manifest["finished"] = _now()
        _atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2))
