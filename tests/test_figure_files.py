"""The report's figures written together (``FigureFiles``): the same PNG bytes on
one process or several, balanced shares, and errors raised in the parent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from trajectories.pipeline.figure_files import CAN_FORK, FigureFiles, _shares


def figure(n_texts: int) -> Figure:
    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.plot(np.arange(5), np.arange(5) ** 2)
    for i in range(n_texts):
        ax.text(i / max(n_texts, 1), 0.5, f"t{i}")
    return fig


def write(directory: Path, jobs: int) -> dict[str, bytes]:
    files = FigureFiles(directory)
    for i, n in enumerate((1, 8, 3, 5)):
        files.add(figure(n), f"f{i}.png")
    paths = files.write(jobs)
    assert files.pending == []
    return {p.name: p.read_bytes() for p in paths}


@pytest.mark.parametrize("jobs", [2, 3, 8])
def test_several_processes_write_the_same_files(tmp_path: Path, jobs: int) -> None:
    one = write(tmp_path / "one", 1)
    assert sorted(one) == ["f0.png", "f1.png", "f2.png", "f3.png"]
    assert all(blob.startswith(b"\x89PNG") for blob in one.values())
    assert write(tmp_path / "many", jobs) == one


def test_shares_balance_the_work() -> None:
    pending = [(figure(n), Path(f"{n}.png")) for n in (40, 1, 2, 3, 30)]
    shares = _shares(pending, 2)
    names = [sorted(p.stem for _, p in share) for share in shares]
    assert names == [["2", "40"], ["1", "3", "30"]]  # largest first, least work next
    assert len(_shares(pending, 9)) == 5
    assert _shares([], 4) == [[]]


@pytest.mark.skipif(not CAN_FORK, reason="figures are forked on Linux only")
def test_a_failing_share_raises_in_the_parent(tmp_path: Path) -> None:
    """A figure that cannot be written fails in its process, then again here."""
    (tmp_path / "blocked").write_text("a file, not a directory")
    files = FigureFiles(tmp_path)
    files.add(figure(30), "good.png")
    files.pending.append((figure(1), tmp_path / "blocked" / "bad.png"))
    with pytest.raises(NotADirectoryError):
        files.write(2)
    assert (tmp_path / "good.png").read_bytes().startswith(b"\x89PNG")
