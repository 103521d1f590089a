"""The report's figures made together (``FigureFiles``): the same PNG bytes on one
process or several, figures left undone by a failed process made again by the
parent, and errors raised in the parent."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from trajectories.pipeline.figure_files import CAN_FORK, FigureFiles

needs_fork = pytest.mark.skipif(not CAN_FORK, reason="figures are forked on Linux")


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
        files.add(partial(figure, n), f"f{i}.png", weight=n)
    paths = files.write(jobs)
    assert files.pending == []
    assert [p.name for p in paths] == ["f0.png", "f1.png", "f2.png", "f3.png"]
    return {p.name: p.read_bytes() for p in paths}


@pytest.mark.parametrize("jobs", [2, 3, 8])
def test_several_processes_write_the_same_files(tmp_path: Path, jobs: int) -> None:
    one = write(tmp_path / "one", 1)
    assert all(blob.startswith(b"\x89PNG") for blob in one.values())
    assert write(tmp_path / "many", jobs) == one


@needs_fork
def test_figures_a_forked_process_fails_on_are_made_here(tmp_path: Path) -> None:
    here = os.getpid()

    def only_here() -> Figure:
        if os.getpid() != here:
            raise RuntimeError("not in a forked process")
        return figure(2)

    files = FigureFiles(tmp_path)
    for i in range(4):
        files.add(only_here, f"f{i}.png")
    for path in files.write(3):
        assert path.read_bytes().startswith(b"\x89PNG")


@needs_fork
def test_a_figure_that_cannot_be_written_raises_here(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file, not a directory")
    files = FigureFiles(tmp_path)
    files.add(partial(figure, 30), "good.png", weight=2)
    files.add(partial(figure, 1), "blocked/bad.png")
    with pytest.raises(NotADirectoryError):
        files.write(2)
    assert (tmp_path / "good.png").read_bytes().startswith(b"\x89PNG")
