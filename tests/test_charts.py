"""Chart text as a reader sees it: axis numbers in the page's language (never mathtext,
never an ``1e6`` offset), table names and models named in that language, and a text
alternative for every chart."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from salesnb import plots, texts  # noqa: E402


@pytest.fixture(autouse=True)
def _theme() -> Iterator[None]:
    plots.set_theme()
    yield
    plt.close("all")
    texts.set_language("en")


def _drawn(ax: plt.Axes, axis: str = "y") -> list[str]:
    """The tick labels drawn inside the axis' view (what the page shows)."""
    ax.figure.canvas.draw()
    lo, hi = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    ticks = ax.yaxis.get_major_ticks() if axis == "y" else ax.xaxis.get_major_ticks()
    return [t.label1.get_text() for t in ticks if lo <= t.get_loc() <= hi and t.label1.get_visible()]


def _rows() -> pd.DataFrame:
    months = pd.date_range("2026-01-01", periods=6, freq="MS")
    return pd.concat([pd.DataFrame({"month": months, "rows": [5, 40, 300, 2_000, 9_000, 15_000][::s],
                                    "table": name})
                      for name, s in (("orders", 1), ("returns", -1))], ignore_index=True)


@pytest.mark.parametrize(("lang", "thousand", "orders"), [("en", "1,000", "orders"), ("ru", "1\xa0000", "заказы")])
def test_a_log_axis_shows_plain_numbers_and_table_names_in_the_language(lang: str, thousand: str, orders: str) -> None:
    """Math parsing is off (a "$" in data must not break a chart), so matplotlib's log
    labels would be drawn as ``$\\mathdefault{10^{3}}$``."""
    with texts.using(lang):
        ax = plots.plot_rows_per_month(_rows(), period="2026-06")
        labels = _drawn(ax)
    assert labels == ["10", "100", thousand, "10" + thousand[1:]], labels
    assert not any("$" in label or "mathdefault" in label for label in labels)
    assert orders in [t.get_text() for t in ax.get_legend().get_texts()]


def test_money_axes_are_grouped_in_the_language_without_an_offset() -> None:
    months = pd.period_range("2025-01", periods=12, freq="M").astype(str)
    history = pd.DataFrame({"month": months, "value": [1_200_000 + 60_000 * i for i in range(12)]})
    ahead = pd.DataFrame({"period": ["2026-01", "2026-02"], "forecast": [2.0e6, 2.1e6], "lo80": [1.9e6, 2.0e6],
                          "hi80": [2.1e6, 2.2e6], "lo95": [1.8e6, 1.9e6], "hi95": [2.2e6, 2.3e6],
                          "model": ["ETS с сезонностью"] * 2})
    with texts.using("ru"):
        ax = plots.plot_forecast(history, ahead, title="Объём продаж")
        labels = _drawn(ax)
    assert ax.yaxis.get_offset_text().get_text() == ""  # no "1e6" beside the axis
    assert "2\xa0000\xa0000" in labels and "0" in labels, labels
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert "факт" in legend and "прогноз (ETS с сезонностью)" in legend, legend


@pytest.mark.parametrize(("lang", "expected"), [("en", ["0%", "20%", "40%", "60%", "80%", "100%"]),
                                                ("ru", ["0\xa0%", "20\xa0%", "40\xa0%", "60\xa0%", "80\xa0%",
                                                        "100\xa0%"])])
def test_share_axes_are_percent_in_the_language(lang: str, expected: list[str]) -> None:
    incidence = pd.DataFrame({"days": [0, 10, 20, 30], "won": [0.0, 0.05, 0.1, 0.2], "lost": [0.0, 0.1, 0.3, 0.4]})
    won = pd.DataFrame({"days": [12, 25, 31, 44]})
    with texts.using(lang):
        axes = plots.plot_cycle(incidence, won)
        labels = _drawn(axes[0])
    assert labels == expected


def test_small_steps_keep_their_decimals() -> None:
    f = plots.LocaleNumbers()
    f.set_locs([0.0, 0.25, 0.5, 0.75])
    assert [f(v) for v in (0.0, 0.25, 0.5)] == ["0.00", "0.25", "0.50"]
    with texts.using("ru"):
        assert f(0.25) == "0,25"
    f.set_locs([0, 500, 1_000])
    assert f(1_000) == "1,000"


def test_the_initiative_chart_names_its_kpi_and_start_in_the_language() -> None:
    from datetime import date

    from salesnb.pdca import CheckResult, Initiative, chart_title

    d0, d1, d2, d3 = date(2026, 1, 1), date(2026, 3, 31), date(2026, 4, 1), date(2026, 6, 30)
    ini = Initiative("PDCA-09", "t", "o", "h", "average_check", {"region": "North"}, 0.05, True,
                     d0, d1, d2, "c", d2, d3)
    months = pd.date_range("2026-01-01", periods=6, freq="MS")
    series = pd.DataFrame({"month": months, "value": [100.0, 102, 98, 110, 112, 115], "group": "segment"})
    result = CheckResult("PDCA-09", "average_check", None, "region = North", baseline=100.0, current=112.0,
                         effect=12.0, rel_effect=0.12, ci_low=5.0, ci_high=19.0, p_value=0.01)
    with texts.using("ru"):
        ax = plots.plot_initiative(series, ini, result, title=chart_title(ini))
        drawn = [t.get_text() for t in ax.texts]
    assert ax.get_title() == "PDCA-09: Средний чек"
    assert drawn == ["начало"]


@pytest.mark.parametrize(("lang", "expected"), [("en", "Chart: Sales volume; Orders"),
                                                ("ru", "График: Объём продаж; Заказы")])
def test_every_chart_has_a_text_alternative_in_the_language(lang: str, expected: str) -> None:
    with texts.using(lang):
        fig, (a, b) = plt.subplots(1, 2)
        a.set_title("Sales volume" if lang == "en" else "Объём продаж")
        b.set_title("Orders" if lang == "en" else "Заказы")
        assert plots.describe(fig) == expected
        fig2, _ = plt.subplots()
        assert plots.describe(fig2) == ("Chart" if lang == "en" else "График")
