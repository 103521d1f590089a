"""Every Python block of README.md runs on its own (a fresh namespace each), but
those that say they need a cluster."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs_on_its_own(index: int) -> None:
    code = BLOCKS[index]
    if "needs a SLURM cluster" in code:
        pytest.skip("needs a cluster")
    exec(compile(code, f"README.md block {index}", "exec"), {"__name__": "readme"})


def test_there_are_blocks() -> None:
    assert len(BLOCKS) >= 3
