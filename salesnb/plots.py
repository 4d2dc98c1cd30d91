"""Charts for the reports: seaborn on a given matplotlib Axes, one theme for all.

Every function draws on ``ax`` (a new figure when ``None``) and returns it; none calls
``plt.show()`` or saves a file.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from salesnb.periods import Period, parse_period

__all__ = ["set_theme", "plot_rows_per_month"]


def set_theme() -> None:
    """The one seaborn theme of every report (called by the notebooks' first cell)."""
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind",
                  rc={"figure.figsize": (10, 4), "figure.dpi": 96, "axes.titleweight": "bold",
                      "axes.spines.top": False, "axes.spines.right": False})


def _shade(ax: plt.Axes, period: Period) -> None:
    ax.axvspan(period.start_ts, period.end_ts, color="0.85", alpha=0.6, zorder=0,
               label=f"{period.name}")


def plot_rows_per_month(counts: pd.DataFrame, *, period: Period | str | None = None,
                        ax: plt.Axes | None = None) -> plt.Axes:
    """Rows per month of each table (from :func:`salesnb.health.rows_per_month`), log scale.

    The reporting period is shaded so a gap or a drop in it stands out.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.2))
    if len(counts):
        sns.lineplot(data=counts, x="month", y="rows", hue="table", marker="o", markersize=3,
                     ax=ax)
        ax.set_yscale("log")
        ax.legend(title=None, ncols=2, fontsize="small", loc="upper left",
                  bbox_to_anchor=(1.0, 1.0), frameon=False)
    if period is not None:
        _shade(ax, parse_period(period))
    ax.set(xlabel=None, ylabel="rows per month (log scale)", title="Rows per month by table")
    return ax
