"""``python -m trajectories.report RUN_DIR``: (re)write a run's heralding report
(``trajectories.pipeline.report``).

As ``trajectories.run``: the modules load with the garbage collector off, then are
frozen (the processes that make figures are forked from this one and share them).
"""

import gc
import sys

if __name__ == "__main__":
    gc.disable()
    from trajectories.pipeline.report import main

    gc.freeze()
    gc.enable()
    sys.exit(main())
