"""``python -m trajectories.run``: the command line (``trajectories.pipeline.cli``).

Local workers are started before anything else is imported (``early_workers``:
with ``--backend fork`` and two or more jobs they warm up on an idle core while the
command line imports and checks its config); they are stopped on every way out, a
Ctrl-C during the imports included (exit 1, one line, as later). That Ctrl-C is
held until the modules are loaded, then acted on: raised inside a library's import,
it could be swallowed there (C code that clears errors: 1 in 60 tries at some
moments), and the run went on as if it had not been pressed. A second Ctrl-C stops
the loading at once (an import that hangs).

The garbage collector is off while the modules load (here and in the warm process):
they make ~10^5 objects that live as long as the process, and collecting them as
they are made costs ~0.1 s of each start-up. Once loaded they are frozen
(``gc.freeze``: never scanned again, and forked processes share their pages instead
of copying them on the first collection) and the collector resumes.

The process ends with ``os._exit`` once the command has returned and its output is
flushed: every file is written and closed, every lock released and every worker
reaped by then, and the interpreter's teardown of a run's heap (matplotlib, pandas,
the compiled kernel) would add ~0.5 s of CPU to every run. Not after a run through
joblib (``--backend loky`` or ``dask``), whose executors shut down at exit.
"""

import gc
import os
import signal
import sys

HELD: list[int] = []
"""Ctrl-C pressed while the modules load (``_hold``)."""


def _hold(signum: int, frame: object) -> None:
    """Hold a Ctrl-C until the modules are loaded; a second one stops at once."""
    if HELD:
        raise KeyboardInterrupt
    HELD.append(signum)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _hold)
    gc.disable()  # until the modules are loaded, here and in the warm process
    from trajectories.pipeline import early_workers

    early = early_workers.start(sys.argv[1:])
    try:
        try:
            from trajectories.pipeline.cli import main  # after the workers' start
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if HELD:
            raise KeyboardInterrupt
        gc.freeze()
        gc.enable()
        code = main(early=early)
    except KeyboardInterrupt:  # Ctrl-C while the command line imports
        print("error: interrupted", file=sys.stderr)  # as exit_codes.exit_code
        code = 1
    finally:
        if early is not None:  # stopped and reaped, whatever happened
            early.close()
    if "joblib" in sys.modules:  # loky's or dask's own shutdown must run at exit
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing to keep
            pass
    os._exit(code)
