"""What the figure scripts share: their output folder, CSV files and figure saving.

The scripts import it as a sibling module (``from plotting import ...``) after
appending their own folder to ``sys.path``, so that this works both when a script
runs as ``python examples/figX.py`` and when a test loads it from its file path.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

FIGURES = Path(__file__).resolve().parent / "figures"
"""Where the scripts write their PNG and CSV files."""


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_records(
    path: Path, rows: Sequence[Mapping[str, Any]], number_format: str | None = None
) -> None:
    """``rows`` as CSV under the keys of the first; values through ``number_format``
    (e.g. ``".10g"``) if given, else written as they are."""
    if number_format is not None:
        rows = [{k: format(v, number_format) for k, v in r.items()} for r in rows]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def write_table(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """A CSV with one header line and the given rows."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def save(fig: Any, path: Path, dpi: int) -> None:
    """Write ``fig`` to ``path`` and close it (pyplot keeps open figures alive)."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def legend_of_twins(ax: Any, twin: Any, **kwargs: Any) -> None:
    """One legend on ``ax`` with the entries of ``ax`` and of its twin axes."""
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, **kwargs)
