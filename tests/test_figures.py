"""The report's figures: what their panels show, the bank sizes the sample resolves,
and legends that cover no data (checked on the rendered figure). Deterministic:
every input is fixed."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis import report as rp
from analysis.density_plot import density_matrix_figure, imaginary_is_zero
from analysis.figures import bank_success_figure, measures_figure, waiting_time_figure
from analysis.relaxation_plot import relaxation_figure
from analysis.sweep_plot import sweep_figure

BELL = np.array(
    [
        [0.03, 0, 0, 0],
        [0, 0.47, 0.44, 0],
        [0, 0.44, 0.47, 0],
        [0, 0, 0, 0.03],
    ],
    dtype=complex,
)


def _panels(fig: Figure) -> list:
    """The heat-map axes (colour bars left out)."""
    return [ax for ax in fig.axes if ax.images and ax.get_title()]


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def assert_legends_clear(fig: Figure) -> None:
    """Every legend lies outside every visible axes of the rendered figure."""
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes)]
    legends = [leg for leg in legends if leg is not None]
    assert legends
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_visible():
                assert not box.overlaps(ax.get_window_extent(renderer))


# ----------------------------------------------------------------- density matrix


def test_real_density_matrix_has_no_imaginary_panels() -> None:
    est = BELL + np.diag([-0.008, 0.004, 0.0, 0.004])
    se = np.full((4, 4), 0.003) + 0j
    fig = density_matrix_figure(est, BELL, se, (2, 2))
    panels = _panels(fig)
    assert [ax.get_title() for ax in panels] == ["estimate: Re ρ'", "exact: Re ρ'"]
    assert len(fig.axes) == 3  # two panels and one colour bar
    assert "0.022\n±0.003" in _texts(panels[0])
    assert "0.440" in _texts(panels[1])
    assert "" not in _texts(panels[1])  # zeros are left blank, not written
    assert len(_texts(panels[1])) == 6
    assert "Im ρ' = 0" in fig.get_supxlabel()


def test_imaginary_part_is_shown_when_it_is_resolved() -> None:
    ex = BELL.copy()
    ex[1, 2], ex[2, 1] = 0.44 + 0.02j, 0.44 - 0.02j
    se = np.full((4, 4), 0.003 + 0.003j)
    fig = density_matrix_figure(ex, ex, se, (2, 2), symbol="ρ_ss", estimate_name="s")
    titles = [ax.get_title() for ax in _panels(fig)]
    assert titles == ["s: Re ρ_ss", "exact: Re ρ_ss", "s: Im ρ_ss", "exact: Im ρ_ss"]
    assert len(fig.axes) == 6  # one colour bar per part
    assert "0.020\n±0.003" in _texts(_panels(fig)[2])


def test_imaginary_part_within_its_error_is_zero() -> None:
    se = np.full((4, 4), 0.003)
    assert imaginary_is_zero(np.full((4, 4), 4.4 * 0.003), np.zeros((4, 4)), se)
    assert not imaginary_is_zero(np.full((4, 4), 4.6 * 0.003), np.zeros((4, 4)), se)
    assert not imaginary_is_zero(np.zeros((4, 4)), np.full((4, 4), 0.02), se)
    assert imaginary_is_zero(np.full((4, 4), 4e-4), np.zeros((4, 4)))  # prints as 0


@pytest.mark.parametrize(("dim", "annotated"), [(9, True), (16, False)])
def test_cells_carry_numbers_up_to_two_qutrits(dim: int, annotated: bool) -> None:
    rho = np.eye(dim, dtype=complex) / dim
    d = math.isqrt(dim)
    fig = density_matrix_figure(rho, rho, np.full((dim, dim), 0.001 + 0j), (d, d))
    assert bool(_texts(_panels(fig)[0])) == annotated


# ------------------------------------------------------------------------- banks


@pytest.fixture(scope="module")
def bank_table() -> pd.DataFrame:
    first = np.random.default_rng(1).random(40000) < 0.05
    return rp.bank_success_table(first, 0.05, rp.bank_sizes(first.size, configured=4))


def test_bank_sizes_end_where_the_sample_resolves_them(bank_table) -> None:
    failures = bank_table["banks"] - bank_table["successes"]
    want = (bank_table["successes"] >= 10) & (failures >= 10)
    assert bank_table["resolved"].tolist() == want.tolist()
    assert bank_table["n"].max() == 1024  # 39 banks, all succeed
    top = bank_table[bank_table["resolved"]]["n"].max()
    assert top == 64
    assert rp.unresolved_banks_note(bank_table).startswith("n = 128, 256, 512, 1024")
    fig = bank_success_figure(bank_table, 0.05, 4)
    ax = fig.axes[0]
    assert max(ax.get_xticks()) == top
    assert ax.get_xlim()[1] < 2 * top
    assert_legends_clear(fig)


# ----------------------------------------------------------------------- legends


def test_waiting_time_legend_is_below_the_axes() -> None:
    pmf = 0.05 * 0.95 ** np.arange(60)
    k = np.random.default_rng(2).geometric(0.05, size=4000)
    table = rp.waiting_time_table(np.minimum(k, 61), pmf, 0.95**60, 0.05)
    fig = waiting_time_figure(table, 200.0, 0.05)
    assert fig.legends[0].get_title().get_text().startswith("P(K > 60): sampled")
    assert_legends_clear(fig)


def test_measures_figure_marks_unresolved_quantities() -> None:
    table = pd.DataFrame(
        {
            "quantity": ["p_suc", "negativity"],
            "value": [0.05, 0.37],
            "se": [0.001, math.nan],
            "exact": [0.049, 0.41],
        }
    )
    fig = measures_figure(table)
    assert [ax.get_title() for ax in fig.axes] == ["z = +1.00", "not resolved"]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "not resolved (no CI)" in labels
    assert_legends_clear(fig)


def test_measures_figure_with_no_estimate() -> None:
    """A quantity with no estimate at all (no success: rho' undefined) is a NaN
    value; its panel shows the exact value and says "not resolved"."""
    table = pd.DataFrame(
        {
            "quantity": ["p_suc", "negativity"],
            "value": [0.0, math.nan],
            "se": [math.nan, math.nan],
            "exact": [1e-6, 0.41],
        }
    )
    fig = measures_figure(table)
    assert [ax.get_title() for ax in fig.axes] == ["not resolved", "not resolved"]
    assert all(np.isfinite(ax.get_ylim()).all() for ax in fig.axes)
    fig.canvas.draw()  # drawing must not fail either


def test_relaxation_legend_is_below_the_panels() -> None:
    t = np.linspace(0, 1000, 6)
    values = np.column_stack([0.05 * (1 - np.exp(-t / 200)), 0.4 + 0 * t, 0.1 + 0 * t])
    fig = relaxation_figure(
        t, values, np.full_like(values, 0.01), t, values, ["p", "|00⟩", "|10⟩"], 200.0
    )
    assert_legends_clear(fig)


def test_sweep_figure_marks_unresolved_points() -> None:
    summary = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0],
            "negativity": [0.37, 0.41, 0.42],
            "negativity_se": [math.nan, 0.01, 0.01],
            "negativity_exact": [0.41, 0.41, 0.41],
        }
    )
    fig = sweep_figure(summary, "x", ["negativity"])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert set(labels) == {
        "estimate, 95% CI",
        "exact",
        "estimate, not resolved (no CI)",
    }
    assert_legends_clear(fig)
