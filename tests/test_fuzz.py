"""The command line's own fuzz test: bad inputs generated from the config schema
(wrong types, values out of range, unknown or misplaced keys and sections, bad
sweeps, bad ``--set``, bad arguments, unreadable config files, configs that every
run would fail on). Each must exit 2 with exactly one line on stderr that names the
offending key (or argument, or file), print nothing on stdout and leave no run
directory behind. Positive controls: valid configs at the boundaries are accepted.

Every case runs ``main`` in this process (a run that starts fails the test); a few
run as real processes, where warnings and tracebacks would reach stderr.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trajectories.pipeline import backends, cli
from trajectories.pipeline.cli import main
from trajectories.pipeline.config import SWEEP_FIXED, load_config
from trajectories.pipeline.preflight import check_can_succeed
from trajectories.pipeline.schema import MACHINE_KEYS, MODEL_KEYS, SCHEMA, ConfigError

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    """A bad input: command-line ``args`` ("{config}" is the config file written
    from ``toml`` or ``raw``, "{tmp}" the test's directory; "--out {tmp}/run" is
    added unless given) and the text the error line must contain."""

    category: str
    name: str
    expect: str
    args: tuple[str, ...] = ()
    toml: str | None = None
    raw: bytes | None = None


def toml_value(v: Any) -> str:
    """A TOML literal of ``v``."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    return repr(v)


def toml_text(data: dict[str, dict[str, Any]]) -> str:
    """A TOML document of sections."""
    lines = []
    for section, table in data.items():
        lines.append(f"[{section}]")
        lines += [f'"{k}" = {toml_value(v)}' for k, v in table.items()]
    return "\n".join(lines) + "\n"


KIND_BASE = {
    "qutrit": {},
    "qudit": {"d": 3},
    "schmidt": {"lambdas": [0.6, 0.8]},
    "one-step": {"d": 3},
    "qubit-qubit": {},
    "qubit-qutrit": {},
}
MODEL_BASE = {"reset": {}, "lindblad": {"T_A": 2.0, "T_B": 0.1}}
VALID = {
    "d": 3,
    "lambdas": [0.6, 0.8],
    "gaps": [1.0, 1.5],
    "couplings": [0.01, 0.01],
    "keep": "upper",
}
"""Valid values of machine keys (else 0.01) for keys that do not apply."""
TYPE_POOL = ["abc", True, {"a": 1}, ["a"], [True], [[1.0]], []]
RANGE_POOL = [-1, -1e-300, 0, 1.5, 65, 10**11, 1e13, 2**63, math.nan, math.inf]
RANGE_POOL += [-math.inf, [-1.0], [math.nan], [math.inf], [0.0], [64], [1.5], "-1"]


def home(section: str, key: str) -> dict[str, dict[str, Any]]:
    """The smallest config in which ``section.key`` applies."""
    if section == "machine":
        kinds = [k for k in KIND_BASE if key == "kind" or key in MACHINE_KEYS[k]]
        kind = (kinds or ["qutrit"])[0]
        return {"machine": {"kind": kind, **KIND_BASE[kind]}}
    if section == "baths":
        model = "lindblad" if key in MODEL_KEYS["lindblad"] else "reset"
        return {"baths": {"model": model, **MODEL_BASE[model]}}
    return {}


def refused(section: str, key: str, value: Any) -> bool:
    """Whether the schema refuses ``value`` for ``section.key``."""
    try:
        SCHEMA[section][key](f"{section}.{key}", value)
    except ConfigError:
        return True
    return False


def setting(
    category: str, section: str, key: str, value: Any, i: int, expect: str = ""
) -> Case:
    """``section.key = value`` in a config file (even i) or by --set (odd i)."""
    data = home(section, key)
    name = f"{section}.{key}={toml_value(value)}"
    expect = expect or f"{section}.{key}"
    if i % 2 == 0:
        data.setdefault(section, {})[key] = value
        return Case(category, name, expect, ("{config}",), toml_text(data))
    args = [f"{s}.{k}={toml_value(v)}" for s, t in data.items() for k, v in t.items()]
    args.append(f"{section}.{key}={toml_value(value)}")
    return Case(category, f"--set {name}", expect, tuple(_sets(args)))


def _sets(items: list[str]) -> list[str]:
    return [a for item in items for a in ("--set", item)]


def schema_cases() -> list[Case]:
    """Every key with every value of the pools that its check refuses."""
    out = []
    for section, keys in SCHEMA.items():
        for key in keys:
            for category, pool in (("type", TYPE_POOL), ("range", RANGE_POOL)):
                bad = [v for v in pool if refused(section, key, v)]
                for i, v in enumerate(bad):
                    out.append(setting(category, section, key, v, i + len(out)))
    return out


def placement_cases() -> list[Case]:
    """Unknown keys and sections, keys of another kind or model, missing ones,
    sections that are not tables."""
    out = []
    for i, section in enumerate(SCHEMA):
        for j, key in enumerate(("zz", "G", "p_a", "levels", "n_trajs")):
            out.append(setting("unknown key", section, key, 1, i + j))
    for name in ("machin", "Machine", "bath", "filters", "protocols", "run", "sweeps"):
        text = toml_text({name: {"g": 1}})
        out.append(Case("unknown section", name, f"[{name}]", ("{config}",), text))
    for section in [*SCHEMA, "sweep"]:
        text = f"{section} = 3\n"
        out.append(Case("not a table", section, f"[{section}]", ("{config}",), text))
        sets = ("{config}", "--set", f"{section}.g=1")
        out.append(Case("not a table", f"{section} --set", f"[{section}]", sets, text))
    for kind, base in KIND_BASE.items():
        for key in sorted(set(SCHEMA["machine"]) - MACHINE_KEYS[kind] - {"kind"}):
            text = toml_text(
                {"machine": {"kind": kind, **base, key: VALID.get(key, 1)}}
            )
            expect = f"machine.{key}"
            out.append(Case("misplaced", f"{kind}: {key}", expect, ("{config}",), text))
    for model, keys in (("reset", MODEL_KEYS["lindblad"]), ("lindblad", {"p_A"})):
        for key in sorted(keys):
            sets = _sets([f"baths.model={model}", f"baths.{key}=0.01"])
            out.append(Case("misplaced", f"{model}: {key}", f"baths.{key}", sets))
    for kind, key in (("qudit", "d"), ("schmidt", "lambdas"), ("one-step", "d")):
        sets = tuple(_sets([f"machine.kind={kind}"]))
        out.append(Case("misplaced", f"{kind} without {key}", f"machine.{key}", sets))
    for key in ("n_traj", "batch_size"):
        sets = _sets(["protocol.machines=3", "sampling.n_traj=9", f"sampling.{key}=7"])
        out.append(Case("misplaced", f"{key} in banks", f"sampling.{key}", sets))
    return out


SWEEPABLE = [
    *(f"machine.{k}" for k in sorted(MACHINE_KEYS["qutrit"])),
    *(f"baths.{k}" for k in ("T_A", "T_B", "p_A", "p_B")),
    *(f"filter.{k}" for k in SCHEMA["filter"]),
    *(f"protocol.{k}" for k in SCHEMA["protocol"]),
]


def sweep_cases() -> list[Case]:
    """Sweeps: axes that are not non-empty lists of valid values, keys that cannot
    be swept or do not exist, grid points that no run survives."""
    out = []
    for i, key in enumerate(SWEEPABLE):
        section, name = key.split(".")
        bad = next(v for v in RANGE_POOL + TYPE_POOL if refused(section, name, v))
        good = SCHEMA[section][name].default
        good = good if isinstance(good, (int, float)) else 1
        for j, value in enumerate((good, [], [good, bad])):
            text = toml_text({"sweep": {key: value}})
            args = _sets([f"sweep.{key}={toml_value(value)}"])
            case = Case("sweep", f"{key} = {toml_value(value)}", f"sweep.{key}")
            if (i + j) % 2:
                out.append(Case(**{**vars(case), "args": ("{config}",), "toml": text}))
            else:
                out.append(Case(**{**vars(case), "args": tuple(args)}))
    fixed = [f"sampling.{k}" for k in SCHEMA["sampling"]] + list(SWEEP_FIXED)
    for key in [*fixed, "machine.zz", "foo.g", "machine.d", "baths.Gamma_A"]:
        sets = tuple(_sets([f"sweep.{key}=[1]"]))
        out.append(Case("sweep", f"sweep {key}", key, sets))
    for key, values, expect in (
        ("machine.g", "[0.01, 0]", "machine.g=0"),
        ("filter.levels_A", "[[0, 1], [0, 5]]", "filter.levels_A=[0, 5]"),
        ("baths.p_A", "[0.002, 1e308]", "baths.p_A=1e+308 (sweep point 1)"),
    ):
        sets = tuple(_sets([f"sweep.{key}={values}"]))
        out.append(Case("sweep", f"sweep {key}={values}", expect, sets))
    return out


def set_cases() -> list[Case]:
    """--set items that are not section.key=value, or name nothing."""
    out = []
    for item in ("machine.g", "g=1", "=1", ".g=1", "machine.=1", "machine..g=1"):
        out.append(Case("--set", item, f"--set {item!r}", ("--set", item)))
    for item, expect in (
        ("foo.g=1", "[foo]"),
        ("machine.g=", "machine.g=''"),
        ("machine.g=abc", "machine.g='abc'"),
        ("machine.g=[1,", "machine.g='[1,'"),
        ("machine.g.x=1", "machine.g.x"),
        ("machine.kind=", "machine.kind=''"),
        ("baths.T_A=hot", "baths.T_A='hot'"),
        ("sweep.machine.g=abc", "sweep.machine.g"),
    ):
        out.append(Case("--set", item, expect, ("--set", item)))
    return out


def argument_cases() -> list[Case]:
    """Bad options and option values."""
    table = [
        (("--resume",), "--resume needs --out"),
        (("--jobs", "abc"), "--jobs"),
        (("--jobs", "1.5"), "--jobs"),
        (("--jobs", "0"), "--jobs=0"),
        (("--jobs", "-2"), "--jobs=-2"),
        (("--seed", "abc"), "--seed"),
        (("--seed", "1.5"), "--seed"),
        (("--seed", "-1"), "sampling.seed=-1"),
        (("--seed", str(2**64)), "sampling.seed="),
        (("--backend", "foo"), "--backend"),
        (("--backend", "mpi"), "--backend"),
        (("--backend",), "--backend"),
        (("--bogus",), "--bogus"),
        (("-x",), "-x"),
        (("--set",), "--set"),
        (("--out",), "--out"),
        (("--out", ""), "--out"),
        (("--out", " "), "--out"),
        (("a.toml", "b.toml"), "b.toml"),
        (("--scheduler", "tcp://127.0.0.1:1"), "--scheduler"),
        (("--backend", "dask"), "--scheduler"),
        (("--backend", "dask", "--scheduler", "foo"), "--scheduler foo"),
        (("--backend", "dask", "--scheduler", "tcp://127.0.0.1:1"), "--scheduler"),
        (("--backend", "dask", "--scheduler", "http://x:1"), "--scheduler"),
        (("--resume", "--out"), "--out"),
        (("--resume", "--out", "{tmp}/new/run"), "--out"),
        (("--resume", "--out", "{tmp}/none"), "--out"),
        (("--out", "{tmp}/file"), "is a file"),
        (("--out", "{tmp}/file/run"), "is a file"),
        (("--out", "{tmp}/dir"), "holds no run but other files"),
        (("--out", "."), "holds no run but other files"),
    ]
    return [Case("argument", " ".join(a), e, a) for a, e in table]


def file_cases() -> list[Case]:
    """Config files that are missing, not files, not UTF-8, empty or not TOML."""
    utf8 = "[machine]\ng = 0.02\n# café\n"
    raw = {
        "UTF-16": utf8.encode("utf-16"),
        "UTF-16-BE": b"\xfe\xff" + utf8.encode("utf-16-be"),
        "latin-1": utf8.encode("latin-1"),
        "cp1252": "# “quoted”\n".encode("cp1252"),
        "binary": bytes(range(128, 256)),
        "empty": b"",
        "blank": b" \n\t\n",
    }
    out = [Case("file", k, "bad.toml", ("{config}",), raw=v) for k, v in raw.items()]
    for name, text in (
        ("unclosed table", "[machine\n"),
        ("no value", "[machine]\ng =\n"),
        ("duplicate key", "[machine]\ng = 1\ng = 2\n"),
        ("duplicate table", "[machine]\n[machine]\n"),
        ("bare text", "hello\n"),
        ("unclosed string", '[machine]\nkind = "qutrit\n'),
        ("json", '{"machine": {"g": 1}}\n'),
    ):
        out.append(Case("file", name, "bad.toml", ("{config}",), text))
    for name, path in (
        ("missing", "{tmp}/missing.toml"),
        ("directory", "{tmp}/dir.toml"),
        ("directory, no suffix", "{tmp}/dir"),
        ("unreadable", "{tmp}/unreadable.toml"),
    ):
        out.append(Case("file", name, path.split("/")[-1], (path,)))
    out.append(Case("file", "unknown preset", "no-such-preset", ("no-such-preset",)))
    return out


PREFLIGHT = [
    (("machine.kind=qudit", "machine.d=3", "machine.gaps=[1.0, 2.0]"), "machine.gaps"),
    (("machine.kind=qudit", "machine.d=3", "machine.couplings=[0.01]"), "couplings"),
    (("machine.kind=one-step", "machine.d=2"), "machine.d=2"),
    (("machine.kind=one-step", "machine.d=3", "machine.gaps=[1, 1, 1]"), "gaps"),
    (("machine.kind=schmidt", "machine.lambdas=[1.0]"), "machine.lambdas=[1.0]"),
    (("machine.kind=schmidt", "machine.lambdas=[0, 0]"), "machine.lambdas="),
    (("machine.kind=schmidt", "machine.lambdas=[0.5, 0.5]"), "machine.lambdas="),
    (("filter.levels_A=[0, 5]",), "filter.levels_A=[0, 5]"),
    (("filter.levels_A=[0, 0]",), "filter.levels_A=[0, 0]"),
    (("filter.levels_A=[3]",), "filter.levels_A=[3]"),
    (("filter.levels_B=[1, 1]",), "filter.levels_B=[1, 1]"),
    (("filter.target=[1, 0, 0]",), "filter.target=[1, 0, 0]"),
    (("filter.target=[0, 0]",), "filter.target"),
    (("filter.target_phases=[0]",), "filter.target_phases=[0]"),
    (("baths.p_A=0",), "baths.p_A=0"),
    (("machine.g=0",), "machine.g=0"),
    (("baths.T_A=0",), "baths.T_A=0"),
    (("baths.p_A=1e308",), "baths.p_A=1e+308"),
    (("baths.p_B=1e300",), "baths.p_B=1e+300"),
    (("machine.g=1e308",), "machine.g=1e+308"),
    (("machine.g3=1e300",), "machine.g3=1e+300"),
    (("machine.eps=1e308",), "machine.eps=1e+308"),
    (("filter.target=[1e308, 1]",), "filter.target=[1e+308, 1]"),
    (("protocol.attempt_period=1e308",), "protocol.attempt_period=1e+308"),
    (("sampling.burn_in=1e12", "protocol.attempt_period=1e-5"), "attempt_period"),
    (
        ("machine.kind=qudit", "machine.d=3", "machine.couplings=[1e300, 1, 1]"),
        "machine.couplings=[1e+300, 1, 1]",
    ),
    (
        ("baths.model=lindblad", "baths.T_A=2", "baths.T_B=0.1", "baths.Gamma_A=1e300"),
        "baths.Gamma_A=1e+300",
    ),
    (("baths.model=lindblad", "baths.T_A=1e300", "baths.T_B=0.1"), "baths.T_A=1e+300"),
    (("baths.model=lindblad", "baths.T_B=0.1"), "baths.T_A=inf"),
]
"""Configs the schema accepts but no run survives (found late before pre-flight)."""


def preflight_cases() -> list[Case]:
    return [
        Case("pre-flight", " ".join(s), e, tuple(_sets(list(s)))) for s, e in PREFLIGHT
    ]


CASES = (
    schema_cases()
    + placement_cases()
    + sweep_cases()
    + set_cases()
    + argument_cases()
    + file_cases()
    + preflight_cases()
)


def _no_run(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("a run started")


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with the files the cases name; runs cannot start and
    the dask scheduler is given half a second."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "execute", _no_run)
    monkeypatch.setattr(backends, "CONNECT_TIMEOUT", 0.5)
    (tmp_path / "dir.toml").mkdir()
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "notes.txt").write_text("the user's\n")
    (tmp_path / "file").write_text("not a directory\n")
    unreadable = tmp_path / "unreadable.toml"
    unreadable.write_text("[machine]\ng = 0.02\n")
    unreadable.chmod(0)
    if os.access(unreadable, os.R_OK):  # root reads everything
        real = Path.read_bytes

        def read_bytes(self: Path) -> bytes:
            if self.name == unreadable.name:
                raise PermissionError(13, "Permission denied", str(self))
            return real(self)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)
    return tmp_path


def argv(case: Case, tmp: Path) -> list[str]:
    """The command line of a case, its config file written."""
    config = tmp / "bad.toml"
    if case.raw is not None:
        config.write_bytes(case.raw)
    elif case.toml is not None:
        config.write_text(case.toml, encoding="utf-8")
    args = [
        a.replace("{config}", str(config)).replace("{tmp}", str(tmp)) for a in case.args
    ]
    if case.category == "argument":
        return args
    return [*args, "--out", str(tmp / "run")]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.category}: {c.name}" for c in CASES])
def test_bad_input_exits_2_with_one_line_naming_it(
    case: Case, sandbox: Path, capsys: pytest.CaptureFixture
) -> None:
    args = argv(case, sandbox)
    before = sorted(p.name for p in sandbox.iterdir())
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert err.startswith("error: "), err
    assert case.expect in err, err
    assert out == ""
    assert sorted(p.name for p in sandbox.iterdir()) == before  # no run directory


def test_the_fuzz_covers_every_category() -> None:
    counts = Counter(c.category for c in CASES)
    assert len(CASES) >= 300
    assert min(counts.values()) >= 7, counts
    assert {k for s in SCHEMA.values() for k in s} <= {
        c.expect.rsplit(".", 1)[-1] for c in CASES if c.category == "range"
    } | {c.expect.rsplit(".", 1)[-1] for c in CASES if c.category == "type"}


SUBPROCESS = [
    (("--set", "baths.p_A=1e308"), "baths.p_A=1e+308"),
    (("--set", "sweep.machine.eps=[1.5, 1e308]"), "machine.eps=1e+308 (sweep point 1)"),
    (("{config}",), "UTF-16"),
]


@pytest.mark.parametrize(
    ("args", "expect"), SUBPROCESS, ids=["overflow", "sweep", "UTF-16"]
)
def test_bad_input_as_a_process(
    args: tuple[str, ...], expect: str, tmp_path: Path
) -> None:
    """numpy's warnings and any traceback would reach stderr here."""
    config = tmp_path / "utf16.toml"
    config.write_bytes("[machine]\ng = 0.02\n".encode("utf-16"))
    out = tmp_path / "run"
    args = tuple(a.replace("{config}", str(config)) for a in args)
    proc = subprocess.run(
        [sys.executable, "-m", "trajectories.run", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("error: ")
    assert expect in proc.stderr
    assert not out.exists()


BOUNDARY = [
    ("machine.theta=10",),
    ("machine.theta=-10",),
    ("machine.eps=1e-10",),
    ("machine.eps=1e10",),
    ("machine.g=100",),
    ("machine.g3=1e-12",),
    ('baths.T_A="-0"',),
    ('baths.T_B="inf"',),
    ("baths.T_A=1e300",),
    ("baths.p_B=0",),
    ("filter.levels_A=[0, 1, 2]",),
    ("filter.levels_B=[2, 1]",),
    ("filter.target=[1, 0]",),
    ("filter.target_phases=[10, -10]",),
    ("protocol.attempt_period=1e-10",),
    ("protocol.attempts=1",),
    ("protocol.machines=1", "sampling.n_traj=1", "sampling.batch_size=1"),
    ("protocol.restart=steady",),
    ("sampling.initial=ground", "sampling.burn_in=0"),
    ("sampling.burn_in=1e12", "protocol.attempt_period=1"),
    ("sampling.seed=0",),
    (f"sampling.seed={2**63 - 1}",),
    ("machine.kind=qudit", "machine.d=2"),
    ("machine.kind=qudit", "machine.d=3", "machine.gaps=[1e-300, 1, 1]"),
    ("machine.kind=one-step", "machine.d=3"),
    ("machine.kind=schmidt", "machine.lambdas=[1, 0]"),
    ("machine.kind=qubit-qutrit", "machine.keep=lower"),
    ("baths.model=lindblad", 'baths.T_A="-0"', "baths.T_B=0.1"),
    ("baths.model=lindblad", "baths.T_A=2", "baths.T_B=0", "baths.dephasing=0"),
    ("sweep.machine.g=[0.01]",),
]
"""Valid configs at the edges of the schema: every run of them can succeed."""


@pytest.mark.parametrize("sets", BOUNDARY, ids=[" ".join(s) for s in BOUNDARY])
def test_configs_at_the_boundary_are_accepted(
    sets: tuple[str, ...], capsys: pytest.CaptureFixture
) -> None:
    assert main([*_sets(list(sets)), "--show-config"]) == 0
    assert capsys.readouterr().err == ""
    check_can_succeed(load_config(None, sets))


@pytest.mark.parametrize(
    "text",
    [
        "# only a comment: every key takes its default\n",
        "\ufeff[machine]\ng = 0.02\n",
        "[machine]\r\ng = 0.02\r\n",
        "[machine]\n[baths]\n[filter]\n[protocol]\n[sampling]\n[sweep]\n",
        'machine = {kind = "qudit", d = 8}\n',
    ],
    ids=["comment only", "UTF-8 BOM", "CRLF", "empty sections", "inline table"],
)
def test_config_files_at_the_boundary_are_accepted(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(text, encoding="utf-8")
    assert main([str(path), "--show-config"]) == 0, capsys.readouterr().err
