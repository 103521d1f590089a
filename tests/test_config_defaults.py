"""Configs that state only what differs, and a command line that explains itself:
defaults from the schema (the machine's from its builder), --show-config round trips,
--list-presets, --help generated from the schema, the target of the fidelity in the
config, a [filter] override that keeps it, gaps of the one-step machine, the sweep
table. Every check here is exact (no random estimate is asserted)."""

from __future__ import annotations

import inspect
import json
import math
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import SMALL_RUN

from trajectories.exact.states import herald, steady_state
from trajectories.pipeline import help_text, schema
from trajectories.pipeline.batches import plan
from trajectories.pipeline.cli import main
from trajectories.pipeline.config import (
    ConfigError,
    load_config,
    preset_description,
    preset_names,
    preset_text,
    validate,
)
from trajectories.pipeline.exit_codes import EXIT_CODES
from trajectories.pipeline.references import PointReference
from trajectories.pipeline.rundir import RunDirectory
from trajectories.pipeline.summary import format_summary, format_table
from trajectories.system import machines

README = Path(__file__).resolve().parents[1] / "README.md"


def exact(*overrides: str, source: str | None = None) -> dict:
    """The exact summary values of a config without sweep."""
    point = load_config(source, overrides)
    return PointReference.of(point).summary(point)


# ------------------------------------------------------------------ defaults


def test_every_key_has_a_default_is_derived_or_comes_from_the_machine() -> None:
    for section, keys in schema.SCHEMA.items():
        for name, key in keys.items():
            if section == "machine" and name != "kind":
                assert key.default == schema.FROM_MACHINE, name
            else:
                assert key.default != schema.REQUIRED or key.derived, name
            assert key.allowed, name
            assert key.doc, name


def test_machine_keys_and_defaults_are_the_builders_signatures() -> None:
    for kind, build in machines.PRESETS.items():
        params = inspect.signature(build).parameters
        assert schema.MACHINE_KEYS[kind] == set(params)
        assert set(params) <= set(schema.SCHEMA["machine"])
        given = {
            n: 4 for n, p in params.items() if p.default is inspect.Parameter.empty
        }
        if kind == "schmidt":
            given = {"lambdas": [0.6, 0.8]}
        config = validate({"machine": {"kind": kind, **given}})
        for name, p in params.items():
            if name in given:
                assert config.machine[name] == given[name]
            elif p.default is None:
                assert name not in config.machine  # derived from other keys
            else:
                assert config.machine[name] == p.default
        config.build_model()


def test_an_empty_config_is_the_default_run() -> None:
    assert tomllib.loads(preset_text("default")) == {}
    empty = validate({}).to_dict()
    assert load_config(None).to_dict() == empty
    assert empty == {
        "machine": {
            "kind": "qutrit",
            "g": 0.01,
            "theta": math.pi / 4,
            "eps": 1.5,
            "g3": 0.0,
        },
        "baths": {
            "model": "reset",
            "T_A": "inf",
            "T_B": 0.0,
            "p_A": 0.002,
            "p_B": 0.01,
        },
        "filter": {"target": "machine"},
        "protocol": {
            "attempt_period": 200.0,
            "attempts": 60,
            "machines": 4,
            "restart": "thermal",
        },
        "sampling": {
            "n_traj": 40000,
            "batch_size": 5000,
            "seed": 20261124,
            "initial": "steady",
        },
        "sweep": {},
    }


def test_a_config_names_only_what_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "cfg.toml"
    path.write_text('[baths]\nmodel = "lindblad"\nT_B = 0.1\n[sampling]\nseed = 3\n')
    got = load_config(str(path)).to_dict()
    want = validate({}).to_dict()
    want["baths"] = {
        "model": "lindblad",
        "T_A": "inf",
        "T_B": 0.1,
        "Gamma_A": 0.002,
        "Gamma_B": 0.01,
        "dephasing": 0.0,
    }
    want["sampling"]["seed"] = 3
    assert got == want


@pytest.mark.parametrize("name", preset_names())
def test_presets_name_only_keys_that_differ_from_the_defaults(name: str) -> None:
    """Every key a preset sets changes the resolved config, and it resolves."""
    stated = tomllib.loads(preset_text(name))
    config = load_config(name)
    for section, keys in stated.items():
        for key, value in keys.items():
            without = {s: dict(k) for s, k in stated.items()}
            del without[section][key]
            try:
                other = validate(without).to_dict()
            except ConfigError:  # a required key (machine.d of the qudit)
                continue
            assert other[section].get(key) != value, f"{name}: {section}.{key}"
    assert preset_description(name)
    config.build_model()


def test_the_manifest_records_the_resolved_config(tmp_path: Path) -> None:
    config = load_config(None, ("protocol.attempts=5",))
    RunDirectory(tmp_path).prepare(config, plan(config), resume=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["config"] == json.loads(json.dumps(config.to_dict()))
    assert manifest["config"]["machine"]["g3"] == 0.0
    assert manifest["config"]["protocol"]["machines"] == 4


def test_resume_compares_resolved_configs(tmp_path: Path, capsys) -> None:
    """A file that writes the defaults out is the same config as the default."""
    config = load_config(None)
    RunDirectory(tmp_path).prepare(config, plan(config), resume=False)
    assert main(["--show-config"]) == 0
    path = tmp_path / "explicit.toml"
    path.write_text(capsys.readouterr().out)
    explicit = load_config(str(path))
    RunDirectory(tmp_path).prepare(explicit, plan(explicit), resume=True)
    changed = load_config(str(path), ("baths.p_B=0.02",))
    with pytest.raises(ConfigError, match=r"baths\.p_B \(0\.01 -> 0\.02\)"):
        RunDirectory(tmp_path).prepare(changed, plan(changed), resume=True)


# ------------------------------------------------------------------ --show-config


SHOWN = [
    *((name, ()) for name in preset_names()),
    (None, ("machine.kind=one-step", "machine.d=4", "baths.T_B=0.2")),
    ("qudit-d4", ("filter.levels_B=[1, 2, 4]", "filter.target=[1, 2, 3]")),
    (None, ("sweep.baths.p_A=[0.001, 0.003]", "sweep.machine.g=[0.02]")),
    ("eq6", ('filter.target="max-entangled"', "sampling.seed=11")),
]


@pytest.mark.parametrize(("source", "sets"), SHOWN)
def test_show_config_loads_back_to_the_same_config(
    source: str | None, sets: tuple[str, ...], tmp_path: Path, capsys
) -> None:
    args = [a for s in sets for a in ("--set", s)]
    assert main([*([source] if source else []), *args, "--show-config"]) == 0
    path = tmp_path / "shown.toml"
    path.write_text(capsys.readouterr().out)
    assert load_config(str(path)).to_dict() == load_config(source, sets).to_dict()
    assert not (tmp_path / "runs").exists()


def test_show_config_writes_derived_values_as_comments(tmp_path: Path, capsys) -> None:
    """Uncommented, the derived values give the same model."""
    assert main(["qudit-d4", "--set", "machine.g=0.02", "--show-config"]) == 0
    text = capsys.readouterr().out
    assert "# couplings = [0.0141421356237309" in text
    assert "# levels_B = [1, 2, 3, 4]" in text
    assert "# burn_in = 0.0" in text
    path = tmp_path / "explicit.toml"
    path.write_text(re.sub(r"(?m)^# (\w+ = .*?)\s+\(derived\)$", r"\1", text))
    explicit = tomllib.loads(path.read_text())
    assert explicit["machine"]["gaps"] == [1.0, 1.5, 1.5, 1.5]
    a, b = exact("machine.g=0.02", source="qudit-d4"), exact(source=str(path))
    for key in ("p_suc", "fidelity", "negativity"):
        assert a[key] == pytest.approx(b[key], rel=1e-12)


def test_show_config_refuses_a_bad_config(capsys) -> None:
    assert main(["--set", "machine.kind=qudit", "--show-config"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "error: machine.d is required for kind='qudit' (an integer in [2, 34])"
    )


def test_readme_shows_the_defaults(capsys) -> None:
    """The README's block of defaults is --show-config's output."""
    assert main(["--show-config"]) == 0
    shown = capsys.readouterr().out
    section = README.read_text().split("### Config keys")[1].split("\n### ")[0]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.S)
    assert shown in blocks
    for block in blocks:
        validate(tomllib.loads(block))


# ------------------------------------------------------------------ presets, --help


def test_list_presets(capsys) -> None:
    assert main(["--list-presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(preset_names())
    for line, name in zip(lines, preset_names(), strict=True):
        assert line.split()[0] == name
        assert line.endswith(preset_description(name))
        first = next(t for t in preset_text(name).splitlines() if t.startswith("#"))
        assert first.lstrip("# ") == preset_description(name)


def _help(capsys) -> str:
    assert main(["--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


def test_help_lists_presets_keys_defaults_ranges_sweep_and_exit_codes(capsys) -> None:
    text = _help(capsys)
    for name in preset_names():
        assert f"{name} {preset_description(name)}" in text
    for section, keys in schema.SCHEMA.items():
        assert f"[{section}]" in text
        for name, key in keys.items():
            assert key.allowed in text, name
            if key.default not in (schema.REQUIRED, schema.FROM_MACHINE):
                assert f"{name} = {help_text.toml_value(key.default)}" in text
    for kind in machines.PRESETS:
        shown = ", ".join(
            f"{n} = {help_text.toml_value(v)}"
            for n, v in schema.machine_defaults(kind).items()
            if schema.has_value(kind, n)
        )
        assert shown.split(",")[0] in text
    assert '"baths.p_A" = [0.001, 0.002]' in text
    assert "--set sweep.machine.g=[0.01,0.02]" in text
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {meaning}" in text


def test_help_is_generated_from_the_schema(capsys, monkeypatch) -> None:
    attempts = schema.SCHEMA["protocol"]["attempts"]
    changed = schema.Key(attempts.check, "an integer from 1 to 7", "a new doc", 7)
    monkeypatch.setitem(schema.SCHEMA["protocol"], "attempts", changed)
    text = _help(capsys)
    assert "attempts = 7 a new doc: an integer from 1 to 7" in text
    assert validate({}).protocol.attempts == 7


# ------------------------------------------------------------------ target, filter


def test_a_filter_override_on_the_machines_levels_keeps_its_fidelity() -> None:
    """31/34: the fidelity of rho' to the target of Eq. 7 at the default point."""
    default = exact()
    assert default["fidelity"] == pytest.approx(31 / 34, abs=1e-12)
    for sets in (
        ("filter.levels_B=[1, 2]",),
        ("filter.levels_A=[1, 0]", "filter.levels_B=[2, 1]"),
        ('filter.target="machine"',),
    ):
        assert exact(*sets)["fidelity"] == default["fidelity"], sets
    model = load_config(None, ("filter.levels_B=[1, 2]",)).build_model()
    assert np.array_equal(model.machine.target, machines.qutrit().target)


def test_a_filter_override_keeps_the_fidelity_in_the_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [*SMALL_RUN, "--no-report", "--set", "filter.levels_B=[1,2]"]
    assert main([*args, "--out", str(out), "--jobs", "1"]) == 0
    row = json.loads((out / "summary.json").read_text())[0]
    assert row["fidelity_exact"] == pytest.approx(31 / 34, abs=1e-12)
    assert "fidelity" in row


def test_other_levels_take_the_maximally_entangled_target() -> None:
    """Levels B = {0, 2}: (|0,1> + |1,0>)/sqrt(2) of the relabelled kept levels."""
    config = load_config(None, ("filter.levels_B=[0, 2]",))
    model = config.build_model()
    assert model.machine.filter.levels() == ([0, 1], [0, 2])
    rho = herald(steady_state(model), model.machine.filter).rho_post
    psi = np.array([0, 1, 1, 0]) / math.sqrt(2)
    assert exact("filter.levels_B=[0, 2]")["fidelity"] == pytest.approx(
        float(np.real(psi.conj() @ rho @ psi)), abs=1e-12
    )


@pytest.mark.parametrize(
    ("sets", "fidelity"),
    [
        (('filter.target="max-entangled"',), 31 / 34),  # theta = pi/4: Eq. 7 itself
        (("filter.target=[1, 0]",), 16 / 34),  # <0,1|rho'|0,1>
        (("filter.target=[3, 0]",), 16 / 34),  # normalised
        (
            ("filter.target=[1, 1]", "filter.target_phases=[0, 3.141592653589793]"),
            1 / 34,
        ),
    ],
)
def test_a_target_set_in_the_config(sets: tuple[str, ...], fidelity: float) -> None:
    assert exact(*sets)["fidelity"] == pytest.approx(fidelity, abs=1e-12)


def test_the_one_step_target_keeps_its_phase_on_other_levels() -> None:
    """The i of Eq. E3 carries over to a filter on other levels of B."""
    base = ("machine.kind=one-step", "machine.d=4")
    model = load_config(None, (*base, "filter.levels_B=[1, 3]")).build_model()
    assert np.allclose(model.machine.target, np.array([0, 1, 1j, 0]) / math.sqrt(2))
    same = exact(*base, 'filter.target="max-entangled"')["fidelity"]
    assert same == pytest.approx(exact(*base)["fidelity"], abs=1e-12)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (['filter.target="ghz"'], "filter.target='ghz' must be \"machine\" |"),
        (["filter.target=[1, 0, 0]"], "target=[1, 0, 0] has 3 entries"),
        (["filter.target=[-1, 1]"], "filter.target[0]=-1 is out of range"),
        (["filter.target=[0, 0]"], "must have a coefficient > 0"),
        (["filter.target_phases=[0]"], "target_phases=[0] has 1 entry"),
        (["filter.levels_A=[5]"], "levels_A=[5] must be a non-empty subset of 0..2"),
        (["machine.kind=qudit"], "machine.d is required for kind='qudit'"),
        (["machine.kind=schmidt"], "machine.lambdas is required for kind='schmidt'"),
        (["sweep.machine.kind=[qutrit, qudit]"], "'machine.kind' cannot be swept"),
        (["sweep.baths.model=[reset]"], "'baths.model' cannot be swept"),
        (["sweep.machine.d=[2, 3]"], "'machine.d' does not apply to kind='qutrit'"),
        (["sweep.baths.Gamma_A=[0.1]"], "does not apply to model='reset'"),
        (
            ["baths.dephasing=0.1"],
            "baths.dephasing=0.1 does not apply to model='reset'",
        ),
        (["protocol.machines=3"], "sampling.n_traj=40000 must be a multiple of"),
    ],
)
def test_bad_keys_exit_2_with_one_line(sets: list[str], message: str, capsys) -> None:
    args = [a for s in sets for a in ("--set", s)]
    assert main([*args, "--show-config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err


# ------------------------------------------------------------------ one-step gaps


def test_the_one_step_machine_takes_gaps() -> None:
    base = ("machine.kind=one-step", "machine.d=4", "baths.T_A=2.0", "baths.T_B=0.3")
    config = load_config(None, (*base, "machine.gaps=[1.0, 2.0, 0.5]"))
    machine = config.build_model().machine
    assert machine.energies_A == (0.0, 1.0, 3.0, 3.5)
    assert machine.energies_B == (0.0, 0.5, 2.5, 3.5)
    unit = load_config(None, base).build_model().machine
    assert unit.energies_A == unit.energies_B == (0.0, 1.0, 2.0, 3.0)
    assert exact(*base)["p_suc"] != pytest.approx(
        exact(*base, "machine.gaps=[1.0, 2.0, 0.5]")["p_suc"], rel=1e-3
    )
    with pytest.raises(ConfigError, match=r"machine\.gaps has 2 entries; machine\.d=4"):
        load_config(None, (*base, "machine.gaps=[1.0, 2.0]")).build_model()
    swept = load_config(None, (*base, "sweep.machine.gaps=[[1.0, 1.0, 1.0]]"))
    assert swept.points()[0].machine["gaps"] == [1.0, 1.0, 1.0]


# ------------------------------------------------------------------ sweep table


def _row(p_A: float, resolved: bool) -> dict:
    row = {"sweep.baths.p_A": p_A, "n_traj": 800, "attempts": 15, "attempt_period": 1.0}
    for key, value in (("p_suc", 0.05), ("negativity", 0.41), ("mean_attempts", 7.2)):
        row |= {
            key: value,
            f"{key}_se": 0.001 if resolved else None,
            f"{key}_exact": value * 1.01,
            f"{key}_z": -0.5 if resolved else None,
            f"{key}_resolved": resolved,
        }
    return row


def test_the_sweep_table_has_one_row_per_point() -> None:
    rows = [_row(0.001, True), _row(0.003, False)]
    table = format_table(rows)
    assert len(table) == 3
    head = table[0].split("  ")
    assert [h.strip() for h in head if h.strip()] == [
        "baths.p_A",
        "p_suc ± SE",
        "exact",
        "z",
        "negativity ± SE (z)",
        "mean K ± SE (z)",
    ]
    assert "0.05 ± 0.001" in table[1]
    assert "0.0505" in table[1]
    assert "0.41 ± 0.001 (-0.50)" in table[1]
    assert table[2].count("not resolved") == 3
    text = format_summary(rows, Path("out")).splitlines()
    assert text[-6:] == [
        "",
        "the sweep, one row per point:",
        *table,
        "run directory: out",
    ]
    single = {k: v for k, v in rows[0].items() if not k.startswith("sweep.")}
    assert "one row per point" not in format_summary([single], Path("out"))


def test_a_sweep_ends_with_its_table(tmp_path: Path, capsys) -> None:
    args = [a for a in SMALL_RUN if a != "--quiet"]
    sets = ["--set", "sampling.n_traj=400", "--set", "protocol.attempts=5"]
    sweep = [
        "--set",
        "sweep.machine.g=[0.01, 0.02]",
        "--set",
        "sweep.baths.T_B=[0, 0.1]",
    ]
    out = tmp_path / "sweep"
    code = main([*args, *sets, *sweep, "--no-report", "--out", str(out), "--jobs", "1"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"run directory: {out}"
    table = lines[-6:-1]
    assert table[0].split()[:3] == ["machine.g", "baths.T_B", "p_suc"]
    rows = json.loads((out / "summary.json").read_text())
    for line, row in zip(table[1:], rows, strict=True):
        assert line.split()[:2] == [
            str(row["sweep.machine.g"]),
            str(row["sweep.baths.T_B"]),
        ]
        assert f"{row['p_suc_exact']:.6g}" in line
