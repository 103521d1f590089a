"""``python -m trajectories.report RUN_DIR``: (re)write a run's heralding report
(``trajectories.pipeline.report``)."""

import sys

from trajectories.pipeline.report import main

if __name__ == "__main__":
    sys.exit(main())
