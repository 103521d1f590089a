"""``python -m trajectories.report RUN_DIR``: (re)write a run's heralding report
(``trajectories.pipeline.report``).

As ``trajectories.run``: the modules load with the garbage collector off, then are
frozen (the processes that make figures are forked from this one and share them),
and BLAS runs on one thread (``early_workers.SERIAL_BLAS_ENV``: the report limits it
to one anyway, and OpenBLAS's thread pool would start again in each forked process).
"""

import gc
import sys

if __name__ == "__main__":
    gc.disable()
    from trajectories.pipeline.early_workers import serial_blas

    serial_blas()
    from trajectories.pipeline.report import main

    gc.freeze()
    gc.enable()
    sys.exit(main())
