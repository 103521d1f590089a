"""``python -m trajectories.run``: the command line (``trajectories.pipeline.cli``)."""

import sys

from trajectories.pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main())
