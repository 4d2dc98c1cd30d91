"""Charts for the reports: seaborn on a given matplotlib Axes, one theme for all.

Every function draws on ``ax`` (a new figure when ``None``) and returns it; none calls
``plt.show()`` or saves a file.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import Formatter

from salesnb import texts
from salesnb.periods import Period, parse_period
from salesnb.texts import t

__all__ = ["set_theme", "plot_rows_per_month", "plot_kpi_trends", "plot_revenue_drivers", "plot_reasons",
           "plot_initiative", "show", "plot_cycle", "plot_anomalies", "plot_romi", "short", "plot_forecast",
           "plot_calibration", "plot_call_times", "plot_uptake", "LocaleNumbers", "describe"]


def set_theme() -> None:
    """The one seaborn theme of every report (called by the notebooks' first cell).

    Chart text is never parsed as math: a reason such as "overcharged $$" or a rep's name
    with a "$" is drawn as written instead of failing the page.
    """
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind",
                  rc={"figure.figsize": (10, 4), "figure.dpi": 96, "axes.titleweight": "bold",
                      "axes.spines.top": False, "axes.spines.right": False, "text.parse_math": False})


def describe(fig: Any) -> str:
    """A chart's text alternative, in the page's language: its titles (or axis labels).

    >>> fig, ax = plt.subplots(); _ = ax.set(title="Sales volume")
    >>> describe(fig)
    'Chart: Sales volume'
    >>> plt.close(fig)
    """
    shown = [ax for ax in fig.axes if ax.get_visible()]
    parts = [ax.get_title() for ax in shown if ax.get_title()] or [
        ax.get_ylabel() or ax.get_xlabel() for ax in shown if ax.get_ylabel() or ax.get_xlabel()]
    return t("plot.alt", what="; ".join(dict.fromkeys(parts))) if parts else t("plot.chart")


def _describe_figures() -> None:
    """Give every chart a page shows its text alternative (``alt``) for screen readers.

    The inline backend draws figures to PNG without one, and nbconvert then writes an
    English "No description has been provided" into every page. The PNG formatter is
    wrapped once per kernel to return the description as the image's metadata; the page
    template writes it into ``alt``.
    """
    try:
        from IPython import get_ipython
        from matplotlib.figure import Figure
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        draw = formatter.lookup_by_type(Figure)
    except KeyError:
        return
    if getattr(draw, "salesnb_alt", False):  # wrapped by an earlier chart of this kernel
        return

    def png(fig: Any, **kwargs: Any) -> Any:
        data = draw(fig, **kwargs)
        data, metadata = data if isinstance(data, tuple) else (data, {})
        return data, {**(metadata or {}), "alt": describe(fig)}

    png.salesnb_alt = True  # type: ignore[attr-defined]
    formatter.for_type(Figure, png)


# also when a chart is drawn without set_theme (tests, a notebook of one's own)
plt.rcParams["text.parse_math"] = False


_Draw = TypeVar("_Draw", bound=Callable[..., Any])


class LocaleNumbers(Formatter):
    """Axis numbers in the page's language: ``1,500,000`` / ``1 500 000``, ``0.25`` /
    ``0,25``, with as many decimals as the ticks' spacing needs; ``share=True`` gives
    ``25%`` / ``25 %``.

    matplotlib's own formatters write English numbers, an offset such as ``1e6`` and, on a
    log axis, mathtext (``$10^{3}$``) that is drawn as written once math parsing is off.

    >>> from salesnb import texts
    >>> f = LocaleNumbers(); f.set_locs([0, 500_000, 1_000_000])
    >>> with texts.using("ru"):
    ...     f(1_500_000)
    '1\xa0500\xa0000'
    >>> f.set_locs([0.0, 0.25, 0.5]); f(0.25)
    '0.25'
    >>> s = LocaleNumbers(share=True); s.set_locs([0.0, 0.05, 0.1])
    >>> with texts.using("ru"):
    ...     s(0.05)
    '5\xa0%'
    """

    def __init__(self, *, share: bool = False) -> None:
        self.share = share
        self.decimals = 0

    def set_locs(self, locs: Any) -> None:  # matplotlib 3.11 deprecates reading ``self.locs``
        ticks = [float(v) for v in locs if math.isfinite(v)]
        if self.axis is not None:  # a log locator adds decades outside the view: not drawn, not counted
            lo, hi = sorted(self.axis.get_view_interval())
            slack = (hi - lo) * 1e-9
            ticks = [v for v in ticks if lo - slack <= v <= hi + slack]
        self.decimals = self._decimals([v * 100 for v in ticks] if self.share else ticks)

    @staticmethod
    def _decimals(ticks: list[float]) -> int:
        """The fewest decimals that write every tick exactly (0.25 → 2, 1,000 → 0)."""
        for decimals in range(7):
            if all(abs(v - round(v, decimals)) <= 1e-9 * max(1.0, abs(v)) for v in ticks):
                return decimals
        return 6

    def __call__(self, x: float, pos: int | None = None) -> str:
        return texts.percent(x, self.decimals) if self.share else texts.number(x, self.decimals)


def _localised(draw: _Draw) -> _Draw:
    """A chart function whose value axes are then given :func:`_localise`, and whose figure
    a page shows with its description (:func:`_describe_figures`)."""

    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        drawn = draw(*args, **kwargs)
        _localise(*(drawn if isinstance(drawn, list) else [drawn]))
        _describe_figures()  # now: the inline backend sets up its formatters with the first figure
        return drawn

    return wrapper  # type: ignore[return-value]


def _localise(*axes: plt.Axes) -> None:
    """Numbers on every value axis in the page's language (see :class:`LocaleNumbers`);
    date axes are left to :mod:`salesnb.texts`' date formats."""
    from matplotlib.ticker import LogFormatter, NullFormatter, ScalarFormatter

    for ax in axes:
        for axis in (ax.xaxis, ax.yaxis):
            major = axis.get_major_formatter()
            if isinstance(major, LogFormatter):
                axis.set_major_formatter(LocaleNumbers())
                axis.set_minor_formatter(NullFormatter())
            elif type(major) is ScalarFormatter:
                axis.set_major_formatter(LocaleNumbers())


def short(text: object, width: int = 40) -> str:
    """A label cut to ``width`` characters with an ellipsis: a 5,000-character product
    name must not stretch a chart to nothing (the tables show it in full).

    >>> short("x" * 50, 10)
    'xxxxxxxxx…'
    """
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _short_column(df: pd.DataFrame, column: str) -> pd.DataFrame:
    return df.assign(**{column: df[column].map(short)}) if column in df.columns else df


def _shade(ax: plt.Axes, period: Period) -> None:
    ax.axvspan(period.start_ts, period.end_ts, color="0.85", alpha=0.6, zorder=0,
               label=f"{period.name}")


@_localised
def plot_rows_per_month(counts: pd.DataFrame, *, period: Period | str | None = None,
                        ax: plt.Axes | None = None) -> plt.Axes:
    """Rows per month of each table (from :func:`salesnb.health.rows_per_month`), log scale.

    The reporting period is shaded so a gap or a drop in it stands out.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.2))
    if len(counts):
        sns.lineplot(data=counts.assign(table=counts["table"].map(texts.table_name)), x="month", y="rows",
                     hue="table", marker="o", markersize=3, ax=ax)
        ax.set_yscale("log")
        ax.legend(title=None, ncols=2, fontsize="small", loc="upper left",
                  bbox_to_anchor=(1.0, 1.0), frameon=False)
    if period is not None:
        _shade(ax, parse_period(period))
    ax.set(xlabel=None, ylabel=t("plot.rows_ylabel"), title=t("plot.rows_title"))
    return ax


@_localised
def plot_kpi_trends(trend: pd.DataFrame, kpis: list[str], *, marks: dict[str, list[pd.Timestamp]] | None = None,
                    ncols: int = 2, axes: list[plt.Axes] | None = None) -> list[plt.Axes]:
    """Small multiples of KPI values over periods (from :func:`salesnb.kpi_trend`).

    The last period (the reported one) is highlighted; ``marks`` draws a dashed line at
    each date given for a KPI (e.g. the start of an improvement initiative). Values whose
    status is not ``ok`` are drawn hollow. A KPI without a value in any period gets no panel
    (no empty chart); every panel has one tick per period, named as the period is, and
    spans every period up to the reported one, whether or not it has a value.
    """
    own = trend[trend["stage"].isna()]
    shown = [k for k in kpis if own.loc[own["kpi"] == k, "value"].notna().any()]
    if axes is None:
        nrows = max(-(-len(shown) // ncols), 1)
        fig, grid = plt.subplots(nrows, ncols, figsize=(11, 2.6 * nrows), squeeze=False,
                                 constrained_layout=True)
        axes = list(grid.ravel())
        for ax in axes[len(shown):]:
            ax.set_visible(False)
    periods = own.drop_duplicates("start").sort_values("start")
    reported = periods["start"].max() if len(periods) else None
    valued = own.loc[own["kpi"].isin(shown) & own["value"].notna(), "start"]
    if len(valued):  # the axis starts where the data does
        periods = periods[periods["start"] >= valued.min()]
    pad = pd.Timedelta(days=10)
    for ax, kpi in zip(axes, shown, strict=False):
        d = own[(own["kpi"] == kpi) & own["value"].notna()].sort_values("start")
        sns.lineplot(data=d, x="start", y="value", ax=ax, marker="o", markersize=4, color="#2c5d8f")
        gated = d[d["status"] != "ok"]
        ax.scatter(gated["start"], gated["value"], s=28, facecolors="white", edgecolors="#2c5d8f", zorder=3)
        last = d[d["start"] == reported]
        if len(last):
            ax.scatter(last["start"], last["value"], s=60, color="#e08214", zorder=4)
        for when in (marks or {}).get(kpi, []):
            ax.axvline(when, color="#762a83", linestyle="--", linewidth=1)
        ax.yaxis.set_major_formatter(LocaleNumbers(share=str(d["unit"].iloc[-1]) == "share"))
        ax.set_xticks(list(periods["start"]), [str(x) for x in periods["period"]])
        ax.set_xlim(periods["start"].min() - pad, periods["start"].max() + pad)
        ax.set(title=short(d["label"].iloc[-1], 60), xlabel=None, ylabel=None)
        ax.tick_params(axis="x", labelrotation=30, labelsize="small")
    return axes[:len(shown)]


@_localised
def plot_revenue_drivers(drivers: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Bars of the revenue change's parts (from :func:`salesnb.revenue_drivers`)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.2))
    if drivers.empty:  # the first period of the data: nothing to compare with
        ax.set_axis_off()
        ax.text(0.5, 0.5, t("plot.nothing_to_split"), ha="center", va="center")
        return ax
    seg_col = next((c for c in drivers.columns if c not in ("part", "effect")), None)
    def part(code: str) -> str:
        return t(f"driver.{code}") if texts.language() != "en" else code

    labels = [short(f"{part(r['part'])}: {r[seg_col]}") if seg_col and isinstance(r[seg_col], str)
              else part(r["part"]) for r in drivers.to_dict("records")]
    colours = ["#1b7837" if v >= 0 else "#b2182b" for v in drivers["effect"]]
    ax.barh(labels, drivers["effect"], color=colours)
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.invert_yaxis()
    ax.set(xlabel=t("plot.effect_on_revenue"), title=t("plot.drivers_title"))
    return ax


@_localised
def plot_reasons(reasons: pd.DataFrame, *, title: str, ax: plt.Axes | None = None) -> plt.Axes:
    """Horizontal bars of counts by reason (from :func:`salesnb.reasons`), largest first."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.35 * max(len(reasons), 3) + 1))
    if len(reasons):
        sns.barplot(data=_short_column(reasons, "reason"), y="reason", x="count", ax=ax, color="#2c5d8f")
    ax.set(title=title, xlabel=texts.column("count"), ylabel=None)
    return ax


@_localised
def plot_initiative(series: pd.DataFrame, initiative: object, result: object, *, title: str | None = None,
                    ax: plt.Axes | None = None) -> plt.Axes:
    """An initiative's KPI month by month, segment and control, with the baseline and check
    windows shaded, the start date marked and the two windows' levels with the effect's
    interval (from :func:`salesnb.pdca.monthly_series` and :func:`salesnb.pdca.check`); ``title``
    defaults to the initiative's id and KPI code (:func:`salesnb.pdca.chart_title` names the KPI
    in the page's language)."""
    ini, res = initiative, result
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.6))
    colours = {"segment": "#2c5d8f", "control": "#999999"}
    labels = {"segment": short(ini.segment_label), "control": short(t("plot.control", control=ini.control_label))}  # type: ignore[attr-defined]
    for group, d in series.groupby("group"):
        ax.plot(d["month"], d["value"], marker="o", markersize=3, color=colours[str(group)],
                label=labels[str(group)])
    b0, b1 = pd.Timestamp(ini.baseline_start), pd.Timestamp(ini.baseline_end)  # type: ignore[attr-defined]
    c0, c1 = pd.Timestamp(ini.check_start), pd.Timestamp(ini.check_end)  # type: ignore[attr-defined]
    ax.axvspan(b0, b1, color="0.93", zorder=0)
    ax.axvspan(c0, c1, color="#fee8c8", zorder=0)
    ax.hlines(res.baseline, b0, b1, color="#2c5d8f", linestyle=":", linewidth=1.5)  # type: ignore[attr-defined]
    ax.hlines(res.current, c0, c1, color="#e08214", linewidth=2, label=t("plot.check_level"))  # type: ignore[attr-defined]
    if res.ci_low == res.ci_low:  # type: ignore[attr-defined]
        ax.fill_between([c0, c1], res.baseline + res.ci_low, res.baseline + res.ci_high,  # type: ignore[attr-defined]
                        color="#e08214", alpha=0.15, label=t("plot.effect_interval"))
    ax.axvline(pd.Timestamp(ini.start), color="#762a83", linestyle="--", linewidth=1)  # type: ignore[attr-defined]
    ax.annotate(t("plot.start"), (pd.Timestamp(ini.start), 1.0), xycoords=("data", "axes fraction"),  # type: ignore[attr-defined]
                ha="left", va="top", color="#762a83", fontsize="small")
    if series["value"].max() <= 1.0:
        ax.yaxis.set_major_formatter(LocaleNumbers(share=True))
    title = title if title is not None else f"{ini.id}: {ini.kpi_label}"  # type: ignore[attr-defined]
    ax.set(title=short(title, 80), xlabel=None, ylabel=None)
    # beside the chart: inside it, the legend hid the lines it names
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return ax


def show(ax: plt.Axes) -> None:
    """Display a chart now, in a loop, and close it (so it is not shown a second time)."""
    from IPython.display import display

    fig = ax.get_figure(root=True)
    display(fig)
    plt.close(fig)  # type: ignore[arg-type]


@_localised
def plot_cycle(incidence: pd.DataFrame, won: pd.DataFrame, *, axes: list[plt.Axes] | None = None) -> list[plt.Axes]:
    """Shares of a cohort's deals won and lost over time (cumulative incidence), and the
    histogram of days to sign."""
    if axes is None:
        _, grid = plt.subplots(1, 2, figsize=(11, 3.4), constrained_layout=True)
        axes = list(grid)
    if len(incidence):
        axes[0].step(incidence["days"], incidence["won"], where="post", color="#1b7837", label=texts.column("won"))
        axes[0].step(incidence["days"], incidence["lost"], where="post", color="#b2182b", label=t("plot.lost"))
        axes[0].legend(frameon=False, loc="upper left")
    axes[0].yaxis.set_major_formatter(LocaleNumbers(share=True))
    axes[0].set(title=t("plot.cycle_title"), xlabel=t("plot.days_since_contact"),
                ylabel=None, ylim=(0, 1.02))
    if len(won):
        sns.histplot(won["days"], bins=20, ax=axes[1], color="#2c5d8f")
    axes[1].set(title=t("plot.days_to_sign"), xlabel=t("plot.days"), ylabel=texts.column("deals"))
    return axes


@_localised
def plot_anomalies(table: pd.DataFrame, *, by: str, ax: plt.Axes | None = None) -> plt.Axes:
    """Monthly values per segment with the anomalies circled (from salesnb.anomalies)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.8))
    if table.empty:
        return ax
    d = _short_column(table.assign(month=pd.PeriodIndex(table["period"], freq="M").to_timestamp()), by)
    sns.lineplot(data=d, x="month", y="value", hue=by, ax=ax, linewidth=1.2)
    hits = d[d["anomaly"]]
    ax.scatter(hits["month"], hits["value"], s=120, facecolors="none", edgecolors="#b2182b", linewidths=2,
               zorder=5, label=t("plot.stands_out"))
    ax.legend(fontsize="small", ncols=2, frameon=False)
    ax.set(title=t("plot.anomalies_title"), xlabel=None, ylabel=t("plot.per_month"))
    return ax


@_localised
def plot_romi(channels: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """ROMI per channel (bars) with its bootstrap interval; small channels hatched, the
    break-even line at zero; the axis says whether ROMI is on margin or on revenue."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.2))
    basis = str(channels["romi_basis"].iloc[0]) if len(channels) and "romi_basis" in channels else "revenue"
    ax.set(title=t(f"plot.romi_title_{basis}"), xlabel=t(f"plot.romi_axis_{basis}"), ylabel=None)
    if channels.empty:
        return ax
    key = channels.columns[0]
    d = channels.dropna(subset=["romi"]).sort_values("romi")
    colours = ["#b2182b" if v < 0 else "#1b7837" for v in d["romi"]]
    bars = ax.barh(d[key].map(short), d["romi"], color=colours)
    if {"romi_low", "romi_high"} <= set(d.columns):
        ax.errorbar(d["romi"], range(len(d)), xerr=[d["romi"] - d["romi_low"], d["romi_high"] - d["romi"]],
                    fmt="none", ecolor="0.25", capsize=3, linewidth=1)
    for bar, small in zip(bars, d["small"], strict=True):
        if small:
            bar.set_hatch("//")
            bar.set_alpha(0.5)
    ax.axvline(0, color="0.3", linewidth=0.8)
    return ax


@_localised
def plot_forecast(history: pd.DataFrame, forecast: pd.DataFrame, *, title: str,
                  ax: plt.Axes | None = None) -> plt.Axes:
    """A KPI's months (``month``, ``value``) and its forecast (``period``, ``forecast``,
    ``lo80``/``hi80``, ``lo95``/``hi95``) with both intervals shaded; the model in the legend."""
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.4))
    ax.set(title=title, xlabel=None, ylabel=None)
    if not history.empty:
        ax.plot(pd.PeriodIndex(history["month"], freq="M").to_timestamp(), history["value"], color="0.2",
                marker="o", markersize=3, linewidth=1.2, label=t("plot.actual"))
    if not forecast.empty:
        when = pd.PeriodIndex(forecast["period"], freq="M").to_timestamp()
        model = str(forecast["model"].iloc[0])
        ax.fill_between(when, forecast["lo95"], forecast["hi95"], color="#4393c3", alpha=0.2,
                        label=texts.column("95% interval"))
        ax.fill_between(when, forecast["lo80"], forecast["hi80"], color="#4393c3", alpha=0.35,
                        label=texts.column("80% interval"))
        ax.plot(when, forecast["forecast"], color="#2166ac", marker="o", markersize=4, linestyle="--",
                label=t("plot.forecast", model=short(model)))
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    return ax


@_localised
def plot_calibration(calibration: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Predicted against observed conversion per bin of the predicted chance (from
    :func:`salesnb.scoring.fit`): on the diagonal when the scores mean what they say."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.set(title=t("plot.calibration_title"), xlabel=t("plot.predicted"), ylabel=t("plot.observed"))
    if calibration.empty:
        return ax
    top = float(max(calibration["predicted"].max(), calibration["observed"].max()) * 1.1) or 1.0
    ax.plot([0, top], [0, top], color="0.6", linewidth=0.8, linestyle=":")
    size = calibration["leads"] / calibration["leads"].max() * 80
    ax.scatter(calibration["predicted"], calibration["observed"], s=size, color="#2166ac")
    ax.set(xlim=(0, top), ylim=(0, top))
    return ax


@_localised
def plot_call_times(calls: pd.DataFrame, *, axes: list[plt.Axes] | None = None) -> list[plt.Axes]:
    """Calls by weekday (rows) and hour (columns), from :func:`salesnb.activities.call_times`:
    how many (left) and the share reached (right, where the export has outcomes; hours with
    fewer than ten calls left blank, their share is noise)."""
    with_outcome = not calls.empty and calls["reached"].notna().any()
    if axes is None:
        _, got = plt.subplots(1, 2 if with_outcome else 1, figsize=(11 if with_outcome else 6, 3.0),
                              squeeze=False)
        axes = list(got[0])
    if calls.empty:
        axes[0].set(title=t("plot.calls_title"))
        return axes
    hours = range(int(calls["hour"].min()), int(calls["hour"].max()) + 1)
    days = [t(f"plot.weekday.{d}") for d in range(7)]
    count = calls.pivot_table(index="weekday", columns="hour", values="calls", aggfunc="sum").reindex(
        index=range(7), columns=hours)
    panels: list[tuple[pd.DataFrame, str, str, tuple[float, float] | None]] = [
        (count, t("plot.calls_title"), "Blues", None)]
    if with_outcome:
        share = calls.pivot_table(index="weekday", columns="hour", values="reached", aggfunc="mean").reindex(
            index=range(7), columns=hours).where(count >= 10)
        panels.append((share, t("plot.reached_title"), "RdYlGn", (0.0, 1.0)))
    for ax, (grid, title, cmap, limits) in zip(axes, panels, strict=False):
        vmin, vmax = limits if limits else (0, None)
        image = ax.imshow(grid.to_numpy(float), aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set(title=title, xlabel=t("plot.hour"), yticks=range(7), yticklabels=days)
        ax.set_xticks(range(len(hours))[::2], [str(h) for h in hours][::2])
        ax.grid(False)
        ax.figure.colorbar(image, ax=ax, shrink=0.8)
    return axes


@_localised
def plot_uptake(curves: pd.DataFrame, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Cumulative buyers of each new product by month since its launch (from
    :func:`salesnb.opportunities.uptake`)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.0))
    ax.set(title=t("market.uptake_title"), xlabel=t("market.months_since"), ylabel=t("market.buyers"))
    for product, g in curves.groupby("product", sort=False):
        ax.plot(g["month"], g["buyers"], marker="o", markersize=3, linewidth=1.4, label=short(product))
    if len(curves):
        ax.legend(loc="upper left", frameon=False)
        ax.set_ylim(bottom=0)
    return ax
