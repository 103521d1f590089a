"""Exit codes of the command lines: 0 success, 2 a bad config, arguments or run
directory (a ``ConfigError``, one line), 1 any other failure."""

from __future__ import annotations

import sys
from collections.abc import Callable

from trajectories.pipeline.schema import ConfigError


def exit_code(action: Callable[[], int]) -> int:
    """Run ``action``; a ConfigError prints one line and gives 2, any other error
    prints one line and gives 1."""
    try:
        return action()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
