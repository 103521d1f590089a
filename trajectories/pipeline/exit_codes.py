"""Exit codes of the command lines: 0 success, 2 a bad config, arguments or run
directory (a ``ConfigError``, one line), 1 a failure during the run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from trajectories.pipeline.schema import ConfigError

EXIT_CODES = {
    0: "success",
    2: "a bad config, config file, arguments or run directory, or a config that no "
    "run survives (found before the run directory is created): one line naming the "
    "key, its value and the allowed range, or why",
    1: "a failure during the run (finished batches are kept; the message says how to "
    "resume where resuming can succeed)",
}
"""The exit codes of the command lines and what they mean."""


def exit_code(action: Callable[[], int]) -> int:
    """Run ``action``; a ConfigError prints one line and gives 2, any other error
    (or Ctrl-C) prints one line and gives 1."""
    try:
        return action()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 1
    except Exception as err:
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one ``ConfigError`` line (exit 2), not a
    usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message} (see {self.prog} --help)")


def parse_or_exit(parse: Callable[[], argparse.Namespace]) -> argparse.Namespace | int:
    """The parsed arguments, or the exit code of --help (0) or of a bad argument (2,
    one line)."""
    try:
        return parse()
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
