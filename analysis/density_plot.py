"""The figure of a density matrix: an estimate beside the exact one.

Heat maps of the real part (and of the imaginary part, unless it is zero to within
its error in every element), each part on its own symmetric colour scale; for
small matrices (``ANNOTATE_MAX``) each cell shows its value, and the estimate's
cells its standard error. A pure function of arrays, as in ``analysis.figures``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from numpy.typing import NDArray

from analysis.figures import basis_labels, new_figure
from analysis.report import Z_PASS

ANNOTATE_MAX = 9
"""Largest dimension whose cells carry their numbers (two qutrits: 9)."""

TICKS_MAX = 48
"""Largest dimension with a labelled tick at every level; larger matrices label
every ceil(k / TICKS_MAX)-th level (thousands of labels make the figure slow)."""

PRINT_ZERO = 5e-4
"""Values below this print as 0 at three decimals: their cells are left blank."""


def imaginary_is_zero(
    estimate: NDArray[np.float64],
    exact: NDArray[np.float64],
    se: NDArray[np.float64] | None = None,
    z: float = Z_PASS,
) -> bool:
    """Whether an imaginary part is zero to within its error in every element.

    An element passes when both the estimate and the exact value lie within
    max(``PRINT_ZERO``, z SE) of 0 (z = 4.5, the report's pass threshold); an
    unknown (NaN) SE counts as 0.

    Examples
    --------
    >>> imaginary_is_zero(np.array([[0.0, 0.004]]), np.zeros((1, 2)),
    ...                   np.array([[0.0, 0.001]]))
    True
    >>> imaginary_is_zero(np.array([[0.0, 0.006]]), np.zeros((1, 2)),
    ...                   np.array([[0.0, 0.001]]))
    False
    """
    err = np.zeros_like(estimate) if se is None else np.nan_to_num(np.abs(se))
    tol = np.maximum(PRINT_ZERO, z * err)
    return bool(np.all(np.abs(estimate) <= tol) and np.all(np.abs(exact) <= tol))


def density_matrix_figure(
    estimate: NDArray[np.complex128],
    exact: NDArray[np.complex128],
    se: NDArray[np.complex128] | None = None,
    dims: tuple[int, int] | None = None,
    *,
    symbol: str = "ρ'",
    estimate_name: str = "estimate",
    title: str = "",
) -> Figure:
    """Heat maps of ``estimate`` (left) and ``exact`` (right): real parts, and
    imaginary parts below them unless ``imaginary_is_zero``.

    ``se`` holds the SE of each real part in its real part and of each imaginary
    part in its imaginary part (NaN: unknown, no ± shown); ``dims`` (d_A, d_B) names
    the basis states |a b>; ``symbol`` names the matrix in the panel titles.
    """
    est = np.asarray(estimate, dtype=complex)
    ex = np.asarray(exact, dtype=complex)
    err = None if se is None else np.asarray(se, dtype=complex)
    k = est.shape[0]
    parts = [("Re", est.real, ex.real, None if err is None else err.real)]
    im_zero = imaginary_is_zero(est.imag, ex.imag, None if err is None else err.imag)
    if not im_zero:
        parts.append(("Im", est.imag, ex.imag, None if err is None else err.imag))
    cell = 1.0 if k <= 4 else (0.68 if k <= ANNOTATE_MAX else 6.0 / k)
    fig = new_figure(2 * k * cell + 2.6, len(parts) * (k * cell + 0.9) + 0.7)
    axes = np.atleast_2d(fig.subplots(len(parts), 2))
    labels = basis_labels(dims) if dims and dims[0] * dims[1] == k else None
    for row, (part, e_part, x_part, s_part) in zip(axes, parts, strict=True):
        vmax = max(float(np.abs(e_part).max()), float(np.abs(x_part).max()), 1e-3)
        for ax, data, errs, name in (
            (row[0], e_part, s_part, estimate_name),
            (row[1], x_part, None, "exact"),
        ):
            image = _matrix_panel(ax, data, errs, labels, vmax)
            ax.set_title(f"{name}: {part} {symbol}")
        row[0].set_ylabel("row (ket)", fontsize=10)
        fig.colorbar(image, ax=row, shrink=0.85, label=f"{part} {symbol}")
    for ax in axes[-1]:
        ax.set_xlabel("column (bra)", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=13)
    fig.supxlabel(_footnote(k, symbol, im_zero, parts), fontsize=9)
    return fig


def _footnote(k: int, symbol: str, im_zero: bool, parts: list) -> str:
    """What the cells show and what was left out."""
    notes = []
    if k <= ANNOTATE_MAX:
        shown = [(e, s) for _, e, _, s in parts if s is not None]
        if shown:
            notes.append("cells: value ± 1 SE")
        if any(np.any((abs(e) >= PRINT_ZERO) & ~(s > 0)) for e, s in shown):
            notes.append("no ±: not resolved")
        notes.append("blank: |value| < 0.0005")
    if im_zero:
        notes.append(f"Im {symbol} = 0 within max(0.0005, {Z_PASS:g} SE): not shown")
    return "; ".join(notes)


def _matrix_panel(
    ax: Axes,
    data: NDArray[np.float64],
    err: NDArray[np.float64] | None,
    labels: list[str] | None,
    vmax: float,
) -> AxesImage:
    """One heat map of a (k, k) real matrix, its cells annotated when k is small."""
    k = data.shape[0]
    image = ax.imshow(data, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    ticks = np.arange(0, k, -(-k // TICKS_MAX))
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    if labels:
        font = 10 if k <= ANNOTATE_MAX else 7
        shown = [labels[t] for t in ticks]
        ax.set_xticklabels(shown, fontsize=font, rotation=0 if k <= 9 else 90)
        ax.set_yticklabels(shown, fontsize=font)
    if k > ANNOTATE_MAX:
        return image
    size = 10 if k <= 4 else (8.5 if k <= 6 else 7)
    for i in range(k):
        for j in range(k):
            text = cell_text(data[i, j], None if err is None else err[i, j])
            if text:
                dark = abs(data[i, j]) > 0.6 * vmax
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=size,
                    color="white" if dark else "black",
                    in_layout=False,  # inside its cell: the layout need not measure it
                )
    return image


def cell_text(value: float, se: float | None = None) -> str:
    """A cell's text: the value to three decimals (two significant digits below
    0.01) and, below it, ± the SE to one significant digit; empty for a value that
    prints as 0 without an error.

    Examples
    --------
    >>> cell_text(0.44512, 0.00281)
    '0.445\\n±0.003'
    >>> cell_text(-0.0121, 0.00043)
    '-0.012\\n±0.0004'
    >>> cell_text(0.00142)
    '0.0014'
    >>> cell_text(1e-5, float("nan"))
    ''
    """
    has_se = se is not None and np.isfinite(se) and se > 0
    if abs(value) < PRINT_ZERO and not (has_se and se >= PRINT_ZERO):
        return ""
    if abs(value) < PRINT_ZERO:
        text = "0.000"
    else:
        text = f"{value:.3f}" if abs(value) >= 0.01 else f"{value:.2g}"
    return f"{text}\n±{se:.1g}" if has_se else text
