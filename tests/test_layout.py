"""The layering rule of ``trajectories/__init__.py``, read from the imports.

Layers: system 1, exact 2, engine 3, simulation 4, heralding 5, validation and paper
6, pipeline 7, the entry points 8. A module imports only from its own layer or lower
ones, with no cycle; the engine imports nothing of the exact layer; heralding takes
from the exact layer only the named start states (no exact references inside result
objects); ``analysis/`` imports nothing of ``trajectories``; no project module is
imported inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {
    "system": 1,
    "exact": 2,
    "engine": 3,
    "simulation": 4,
    "heralding": 5,
    "validation": 6,
    "paper": 6,
    "pipeline": 7,
    "run": 8,
    "report": 8,
}
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60


def modules() -> dict[str, Path]:
    """Dotted name -> path of every module of trajectories/ and analysis/."""
    out = {}
    for package in ("trajectories", "analysis"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports(path: Path) -> tuple[set[str], set[str]]:
    """Project modules imported at module level and inside functions."""
    top, local = set(), set()
    tree = ast.parse(path.read_text())
    functions = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    inner = {id(n) for f in functions for n in ast.walk(f)}
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        names = [n for n in names if n.split(".")[0] in ("trajectories", "analysis")]
        (local if id(node) in inner else top).update(names)
    return top, local


def layer(module: str) -> int:
    parts = module.split(".")
    return 9 if len(parts) == 1 else LAYERS[parts[1]]


def resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module a dotted import name refers to (a module or a name in one)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


GRAPH = {
    name: {
        m
        for m in (resolve(i, modules()) for i in imports(path)[0])
        if m is not None and m != name
    }
    for name, path in modules().items()
}


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_run_down_the_layers(name: str) -> None:
    if name.startswith("analysis"):
        assert not any(m.startswith("trajectories") for m in GRAPH[name]), GRAPH[name]
        return
    for m in GRAPH[name]:
        if m.startswith("trajectories") and m != "trajectories":
            assert layer(m) <= layer(name), f"{name} imports {m} from a higher layer"
        if name.startswith("trajectories.engine"):
            assert not m.startswith("trajectories.exact.states"), f"{name} imports {m}"
        if name.startswith("trajectories.heralding.simulate") and m.startswith(
            "trajectories.exact.states"
        ):
            assert m == "trajectories.exact.starts", f"{name} imports {m}"


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in GRAPH.get(node, ()):
            if nxt == "trajectories" or nxt not in GRAPH:
                continue
            assert state.get(nxt) != 1, " -> ".join([*path, nxt])
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in GRAPH:
        if name not in state:
            visit(name, [name])


LAZY_IMPORTS = {
    "trajectories.engine.event_loop": {
        "trajectories.engine",
        "trajectories.engine.kernel",
    },
    "trajectories.pipeline.cli": {
        "trajectories.pipeline.report",
        "trajectories.pipeline.report.write_report",
    },
    "trajectories.pipeline.early_workers": {
        "trajectories.pipeline",
        "trajectories.pipeline.backends",
        "trajectories.pipeline.rundir",
        "trajectories.pipeline.batches",
        "trajectories.pipeline.batches.warm_up",
    },
}
"""The allowed function-local imports. The compiled kernel, whose numba import
costs ~1 s of CPU, is loaded where a chunk first runs compiled, not by every
process that imports the package (the command line's checks and --help, the parent
of local workers, the report). The command line imports the report (matplotlib,
~0.3 s) once its batches have started, while local workers run. The warm process of
``early_workers`` is forked before the command line's imports and makes the
workers' own imports there, in parallel with the command line's."""


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_function_local_project_imports(name: str) -> None:
    assert imports(modules()[name])[1] <= LAZY_IMPORTS.get(name, set())


def test_numba_and_matplotlib_are_imported_only_where_used() -> None:
    """Not by the command line's module: numba where a chunk first runs compiled,
    matplotlib by the report."""
    import subprocess
    import sys

    code = (
        "import sys, trajectories.pipeline.cli; "
        "print('numba' in sys.modules, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False False"


def test_the_entry_point_imports_only_the_standard_library() -> None:
    """``import trajectories.run`` (before its workers start) loads no numpy, and
    ``import trajectories`` loads its names on first use."""
    import subprocess
    import sys

    code = (
        "import sys, trajectories.run; print('numpy' in sys.modules); "
        "from trajectories import qutrit; print('numpy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "True"]


@pytest.mark.parametrize("name", sorted(modules()))
def test_modules_and_functions_are_short(name: str) -> None:
    path = modules()[name]
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{name} is too long"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            span = node.end_lineno - node.lineno + 1
            assert span <= MAX_FUNCTION_LINES, f"{name}.{node.name}: {span} lines"


def test_every_top_level_name_resolves() -> None:
    """``__all__`` names exactly the lazily loaded names (and the version), each
    from the module that defines it."""
    import trajectories

    assert set(trajectories.__all__) == {*trajectories._HOME, "__version__"}
    for name, module in trajectories._HOME.items():
        value = getattr(trajectories, name)
        assert value.__module__ == module, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        trajectories.nope  # noqa: B018


def test_layering_rule_is_documented() -> None:
    import trajectories

    doc = trajectories.__doc__
    for package in LAYERS:
        assert f"``{package}``" in doc


def test_no_example_shadows_an_installed_module() -> None:
    """``python examples/X.py`` puts examples/ first on sys.path: a script named
    like a module that a dependency imports (``coverage``, which numba imports)
    would replace it there and break every example. ``optional``: modules the
    dependencies import only if installed."""
    import importlib.machinery
    import sys

    examples = ROOT / "examples"
    search = [p for p in sys.path if Path(p or ".").resolve() != examples]
    optional = {"coverage", "pytest_cov", "IPython", "tbb", "cupy", "distributed"}
    shadows = [
        path.name
        for path in sorted(examples.glob("*.py"))
        if path.stem in sys.stdlib_module_names | optional
        or importlib.machinery.PathFinder.find_spec(path.stem, search) is not None
    ]
    assert not shadows
