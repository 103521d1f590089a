"""Command line: ``python -m trajectories.run [CONFIG.toml | PRESET] [options]``.

Runs the heralding protocol of a config (or every point of its sweep) in batches,
writes a run directory and prints a heralding summary with errors and exact values.
Before the run directory exists, pre-flight checks the config, every grid point's
model and exact references (``preflight``) and the backend connection. Exit codes
(``exit_codes``): 0 success, 2 bad input, one line; 1 a failure during the run
(finished batches are kept; ``--resume`` completes the run where it can succeed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import signal
import sys
from collections.abc import Callable
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

from trajectories.exact.relaxation import BURN_IN_RELAXATION_TIMES
from trajectories.pipeline.backends import (
    BACKENDS,
    LOCAL_BACKEND,
    connected,
    execute,
    local_jobs,
)
from trajectories.pipeline.batches import Batch, plan
from trajectories.pipeline.config import (
    ConfigError,
    RunConfig,
    load_config,
)
from trajectories.pipeline.early_workers import EarlyWorkers
from trajectories.pipeline.exit_codes import OneLineParser, exit_code, parse_or_exit
from trajectories.pipeline.help_text import help_epilog, list_presets, show_config
from trajectories.pipeline.preflight import check_can_succeed
from trajectories.pipeline.progress import StatusLine, progress_bar
from trajectories.pipeline.records import RecordsReader
from trajectories.pipeline.rundir import RunDirectory
from trajectories.pipeline.summary import format_summary, resolution_notes, summarize
from trajectories.pipeline.workload import (
    Workload,
    check_grid_size,
    check_workload,
    format_workload,
)

EXAMPLES = """examples:
  python -m trajectories.run                         the embedded default (qutrit)
  python -m trajectories.run lindblad-fig5b --jobs 2 a preset
  python -m trajectories.run my.toml --set machine.g=0.02 --set sampling.n_traj=8000
  python -m trajectories.run --out runs/x --resume   finish an interrupted run
  python -m trajectories.run cfg.toml --backend dask --scheduler tcp://host:8786
  python -m trajectories.run relaxation             start thermal, relax, herald
  python -m trajectories.run eq6 --set baths.T_B=0.1 --show-config   print, not run

start and burn-in ([sampling]):
  initial = "steady" | "thermal" | "ground"   where the machines start (default
      "steady": the exact steady state; "thermal": tau_A (x) tau_B of the baths;
      "ground": both systems in their lowest level)
  burn_in = TIME   time before the first attempt (default 0 for "steady", else ten
      relaxation times 1/gap, the Liouvillian gap on the elements reachable from the
      populations; the value in force is printed). The run samples the ensemble
      over the burn-in and time-averages each trajectory over the window before the
      first attempt: its own estimate of the steady state, in summary.json
      (steady_*, steady_state_max_abs_z, steady_state_n_elements) and
      steady_state.csv.

target ([filter]):
  target = "machine"   the machine's target (Eqs. 7, 11, D5, E3) on its own filter's
      levels; with other levels_A, levels_B it means "max-entangled"
  target = "max-entangled" | [c_0, ..., c_{m-1}]   sum_k c_k e^{i phi_k} |k, m-1-k>
      (normalised) on the kept levels relabelled 0, 1, ..., m = min(k_A, k_B);
      phi_k = target_phases, by default those of the machine's target
"""


def _directory(text: str) -> Path:
    """A run directory name: not empty (which would mean the current directory)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"--out={text!r} must name a directory")
    return Path(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command-line options."""
    p = OneLineParser(
        prog="python -m trajectories.run",
        epilog=EXAMPLES + "\n" + help_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Simulate heralded entanglement from a thermal machine: batches "
        "of trajectories, a run directory with tidy records and a summary checked "
        "against exact values.",
    )
    p.add_argument(
        "config",
        nargs="?",
        help="a TOML file or a preset name (default: the embedded two-qutrit config)",
    )
    p.add_argument(
        "--out", type=_directory, help="run directory (default: runs/<name>-<UTC time>)"
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=-1,
        help="parallel batches (default -1: all local cores)",
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=LOCAL_BACKEND,
        help="fork: local processes forked from the run (default on Linux); loky: "
        "fresh local processes (default elsewhere); dask: a dask.distributed cluster",
    )
    p.add_argument("--scheduler", help="dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--seed", type=int, help="override sampling.seed")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set protocol.attempts=50",
    )
    p.add_argument(
        "--resume", action="store_true", help="complete the interrupted run in --out"
    )
    p.add_argument(
        "--list-presets", action="store_true", help="print the presets and exit"
    )
    p.add_argument(
        "--show-config",
        action="store_true",
        help="print the resolved config (TOML, defaults included) and exit",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument(
        "--no-report", action="store_true", help="skip report.md and its figures"
    )
    p.add_argument(
        "--force", action="store_true", help="run above the limits of the work estimate"
    )
    return p.parse_args(argv)


def _config(args: argparse.Namespace) -> tuple[RunConfig, str]:
    if args.resume and args.out is None:
        raise ConfigError("--resume needs --out DIRECTORY, the run to complete")
    overrides = list(args.set)
    if args.seed is not None:
        overrides.append(f"sampling.seed={args.seed}")
    if args.resume and args.config is None and args.out is not None:
        config = RunDirectory(args.out).load_config(tuple(overrides))
        return config, args.out.name
    config = load_config(args.config, tuple(overrides))
    name = Path(args.config).stem if args.config else "default"
    return config, name


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace, early: EarlyWorkers | None = None) -> int:
    """Run (or resume) the configured simulation; return the exit code. Local
    workers come from ``early`` where it fits the run (else it is left unused)."""
    if args.list_presets:
        print(list_presets())
        return 0
    config, name = _config(args)
    check_grid_size(config, args.force)
    if args.show_config:
        for point in config.points():
            point.build_model()
        print(show_config(config), end="")
        return 0
    local_jobs(args.jobs)  # a bad --jobs is refused before any work
    if args.scheduler is not None and args.backend != "dask":
        raise ConfigError(f"--scheduler={args.scheduler} needs --backend dask")
    if args.backend == "fork" and "fork" not in multiprocessing.get_all_start_methods():
        raise ConfigError("--backend fork needs a platform that forks: use loky")
    with ExitStack() as stack:
        client, work = _preflight(args, config, stack)
        if not args.quiet:
            _print_burn_in(config)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        out = args.out or Path("runs") / f"{name}-{stamp}"
        rundir = RunDirectory(out)
        with rundir.locked():
            return _run_locked(args, config, rundir, client, work, early)


def _preflight(
    args: argparse.Namespace, config: RunConfig, stack: ExitStack
) -> tuple[Any, Workload]:
    """Check every grid point (``check_can_succeed``) and the work estimate
    (``check_workload``), and connect to the backend, before the run directory
    exists; the dask client (kept open by ``stack``) or None, and the estimate. A
    status line on a terminal says what is being computed."""
    with StatusLine(args.quiet) as status:
        check_can_succeed(config, status)
        status("estimating the work")
        work = check_workload(config, args.force)
        if args.backend == "dask":
            status(f"connecting to the dask scheduler {args.scheduler}")
        return stack.enter_context(connected(args.backend, args.scheduler)), work


def _run_locked(
    args: argparse.Namespace,
    config: RunConfig,
    rundir: RunDirectory,
    client: Any,
    work: Workload,
    early: EarlyWorkers | None,
) -> int:
    """Run the missing batches of a locked run directory (the work estimate on
    stderr first), then summarise."""
    out, batches = rundir.path, plan(config)
    rundir.prepare(config, batches, resume=args.resume)
    if not args.quiet:
        print(format_workload(work), file=sys.stderr)
    for name, why in rundir.damaged.items():
        print(f"batch {name}: {why}; recomputing it", file=sys.stderr)
    todo = [b for b in batches if not rundir.has_batch(b)]
    n_jobs = local_jobs(args.jobs)
    figure_jobs = n_jobs if args.backend == "fork" else 1  # forked figure writers
    n_jobs = max(1, min(n_jobs, len(todo) or 1))
    early = early if args.backend == "fork" and n_jobs > 1 else None
    signal.signal(signal.SIGTERM, _interrupt)
    reader = RecordsReader(config, rundir)
    try:
        report = _run_batches(
            args, config, rundir, client, (batches, todo), n_jobs, early, reader
        )
    except (KeyboardInterrupt, Exception) as err:
        if early is not None:  # its job was sent, perhaps before any result came
            early.close()
        print(_stopped(err, rundir, batches, args.resume), file=sys.stderr)
        return 1
    records = reader.records()
    rows = summarize(config, records)
    rundir.finish(rows)
    if not args.no_report:
        report = report or _report_writer()
        report(out, records, jobs=figure_jobs)
    if not args.quiet:
        print(format_summary(rows, out))
    for note in resolution_notes(rows):
        print(note, file=sys.stderr)
    return 0


def _run_batches(
    args: argparse.Namespace,
    config: RunConfig,
    rundir: RunDirectory,
    client: Any,
    work: tuple[list[Batch], list[Batch]],
    n_jobs: int,
    early: EarlyWorkers | None,
    reader: RecordsReader,
) -> Callable[..., Path] | None:
    """Run ``todo`` of ``work = (batches, todo)`` with a progress bar over all
    batches, folding each share into ``reader``; the report writer if it was
    imported meanwhile."""
    (batches, todo), report = work, None
    total = sum(b.size for b in batches)
    with progress_bar(total, len(batches), args.quiet) as bar:
        bar.update(total - sum(b.size for b in todo))
        done = execute(
            config,
            todo,
            rundir.write_batch,
            n_jobs=n_jobs,
            backend=args.backend,
            client=client,
            early=early,
        )
        with closing(done):  # an error here stops the workers at once
            if early is not None and not args.no_report:
                report = _report_writer()  # while the warm workers start
            for batch, part in done:
                bar.update(batch.size)
                reader.add(batch, part)
                if report is None and not args.no_report:
                    report = _report_writer()
    return report


def _report_writer() -> Callable[..., Path]:
    """``write_report``, imported once the batches have started: its imports
    (matplotlib, ~0.3 s) load while local workers run, not before they start."""
    from trajectories.pipeline.report import write_report

    return write_report


DETERMINISTIC = (
    ArithmeticError,
    AssertionError,
    AttributeError,
    LookupError,
    NotImplementedError,
    TypeError,
    ValueError,
)
"""Errors of a computation that a resumed run would repeat (the records of a batch
depend on nothing but the config)."""


def _stopped(
    err: BaseException, rundir: RunDirectory, batches: list, resumed: bool
) -> str:
    """What a run stopped by ``err`` says: how many batches are saved, and how to
    resume where resuming can succeed (not after an error that a resumed run would
    repeat: then a new run that saved nothing is removed)."""
    n_done = sum(rundir.has_batch(b) for b in batches)
    what = f"{type(err).__name__}: {err}"
    if isinstance(err, DETERMINISTIC):
        if n_done == 0 and not resumed:
            rundir.discard()
            return f"error: run failed ({what}) before any batch finished; no run kept"
        return (
            f"error: run failed ({what}); {n_done} of {len(batches)} batches are "
            f"saved in {rundir.path}; resuming would repeat the failure"
        )
    return (
        f"error: run stopped ({what}); {n_done} of {len(batches)} batches are saved "
        f"in {rundir.path}.\nresume with: python -m trajectories.run --out "
        f"{rundir.path} --resume"
    )


def _print_burn_in(config: RunConfig) -> None:
    """Say which burn-in is in force where it is the default of a non-steady start."""
    for i, point in enumerate(config.points()):
        if point.sampling.initial != "steady" and point.sampling.burn_in is None:
            tau = point.burn_in / BURN_IN_RELAXATION_TIMES
            where = f"point {i}: " if config.sweep else ""
            print(
                f"{where}burn-in {point.burn_in:.6g} = {BURN_IN_RELAXATION_TIMES:g} "
                f"relaxation times (1/gap = {tau:.6g}) from {point.sampling.initial!r}",
                file=sys.stderr,
            )


def main(argv: list[str] | None = None, early: EarlyWorkers | None = None) -> int:
    """Entry point; returns the process exit code. ``early``: local workers
    started before the imports (``early_workers.start``), stopped on the way out
    if the run left them unused."""
    try:
        args = parse_or_exit(lambda: parse_args(argv))
        if isinstance(args, int):
            return args
        return exit_code(lambda: run(args, early))
    finally:
        if early is not None:
            early.close()
