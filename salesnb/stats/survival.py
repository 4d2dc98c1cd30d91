"""Time to a win with loss as a competing event (Aalen–Johansen cumulative incidence).

A deal ends won, ends lost, or is still open at the data's end. Kaplan–Meier on "time to
win" that drops lost deals keeps open deals — future losers among them — in the risk set
and reads a win as more likely and slower than it is; treating lost deals as censored
pretends they could still sign. The cumulative incidence of a win (statsmodels
``CumIncidenceRight``, the Aalen–Johansen estimator) counts a loss as what it is: an end
that is not a win. ``won_by(30)`` is the share of a cohort signed within 30 days.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import CumIncidenceRight

__all__ = ["win_incidence", "incidence_at"]


def win_incidence(days: np.ndarray, outcome: np.ndarray) -> pd.DataFrame:
    """Cumulative incidence curves of a cohort: ``days``, ``won``, ``lost`` (shares).

    ``days``: days from first contact to close, or to the data's end for open deals;
    ``outcome``: ``won``, ``lost`` or ``open``.

    >>> t = win_incidence(np.array([2, 4, 3, 6, 5, 8]), np.array(["won", "won", "open", "won", "lost", "lost"]))
    >>> round(incidence_at(t, 4), 3), round(incidence_at(t, 100, "lost"), 3)
    (0.375, 0.417)
    """
    status = np.select([outcome == "won", outcome == "lost"], [1, 2], 0)
    if len(days) == 0 or not (status > 0).any():
        return pd.DataFrame(columns=["days", "won", "lost"])
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        if not (status == 2).any() or not (status == 1).any():
            # one kind of end only: statsmodels needs both, and the incidence is 1 − Kaplan–Meier
            times = np.unique(days).astype(float)
            at_risk = np.array([(days >= t).sum() for t in times], float)
            events = np.array([((days == t) & (status > 0)).sum() for t in times], float)
            surv_before = np.concatenate([[1.0], np.cumprod(1 - events / at_risk)[:-1]])
            inc = np.cumsum(surv_before * events / at_risk)
            zero = np.zeros(len(times))
            return pd.DataFrame({"days": times, "won": inc if (status == 1).any() else zero,
                                 "lost": inc if (status == 2).any() else zero})
        c = CumIncidenceRight(np.asarray(days, float), status)
    return pd.DataFrame({"days": c.times, "won": c.cinc[0], "lost": c.cinc[1]})


def incidence_at(curve: pd.DataFrame, day: float, event: str = "won") -> float:
    """The curve's value at ``day`` (a step function); NaN for an empty curve."""
    if curve.empty:
        return math.nan
    i = np.searchsorted(curve["days"].to_numpy(float), day, side="right") - 1
    return float(curve[event].iloc[i]) if i >= 0 else 0.0
