"""Lead scoring: the chance that a lead converts within ``MATURITY_DAYS`` of its creation,
from what was known when it is scored.

A piecewise-exponential (discrete-time) hazard model: each lead is followed from creation
through age bands (:data:`AGE_BANDS`) until it converts, until ``MATURITY_DAYS``, or until
the day of scoring; a band a lead has only partly lived is its exposure, so a lead younger
than the horizon counts for the days it was seen (censored), not as missing and not as a
failure. A statsmodels Poisson GLM with the log of each band's exposure as offset fits
one daily conversion rate per age band times a rate ratio per level of each feature —
channel, region, segment, campaign (rare levels pooled), the first response (hours from
creation to the first activity, within the first week) and the activities of the first
week. A lead's score is 1 − exp(−cumulative rate to ``MATURITY_DAYS``), for an open lead
given that it has not converted yet. It is validated on a **time split**: fitted on the
cohorts before the newest ``TEST_MONTHS`` of matured cohorts, judged on those (AUC,
calibration slope and intercept, lift of the top decile, a calibration table). The scores
of open leads come from a refit on every lead of the training window, young ones included.

Examples
--------
>>> from salesnb.data.demo import generate
>>> import salesnb
>>> data = salesnb.SalesData(generate(scale=0.1)[0])
>>> model = fit(data)
>>> 0.5 < model.validation["auc"] < 1.0
True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
from scipy import stats as sps

from salesnb import texts
from salesnb.aggregate import collect, data_end
from salesnb.comparisons import Data
from salesnb.engines import as_source
from salesnb.texts import t

__all__ = ["fit", "score_leads", "lead_frame", "LeadModel", "FEATURES", "MATURITY_DAYS", "fit_or_note",
           "validation_lines", "validation_auc", "person_periods", "band_names", "AGE_BANDS", "OTHER", "NONE"]

MATURITY_DAYS = 90      # a lead's outcome is taken as known this long after creation
FIRST_DAYS = 7          # activity features: the lead's first week
TRAIN_MONTHS = 15       # cohorts the model learns from (test months included)
TEST_MONTHS = 3         # the newest matured cohorts: the time-split validation
MIN_LEVEL = 50          # leads a category level needs; rarer levels are pooled as OTHER
# and conversions: a level that (almost) never converts has no finite rate to estimate (its
# interval ran from 1e-305 to 1e304); it is pooled too, and a pool without them joins the reference
MIN_LEVEL_CONVERSIONS = 5
AGE_BANDS = (0, 7, 14, 30, 60, MATURITY_DAYS)  # days since creation: one daily conversion rate per band
MIN_EXPOSURE = 0.5      # a lead that converts on the day it was created was still seen for half a day
# pooled and missing levels, apart from any level an export can name (a channel called "other")
OTHER = "\x1fother"
NONE = "\x1fnone"
FEATURES = ("channel", "region", "segment", "campaign_id", "first_response", "first_week_activities")
LABELS = {"channel": "channel", "region": "region", "segment": "segment", "campaign_id": "campaign",
          "first_response": "first response", "first_week_activities": "first-week activities"}
# first response: hours to the first activity, as bands a manager can act on
RESPONSE_BANDS = ((1.0, "within 1 hour"), (24.0, "within a day"), (24.0 * FIRST_DAYS, "within a week"))
NO_RESPONSE = "no contact in the first week"
_LEVEL_KEYS = {"within 1 hour": "hour", "within a day": "day", "within a week": "week", NO_RESPONSE: "none",
               OTHER: "other", NONE: "missing"}


def feature_label(feature: str) -> str:
    """A lead feature's name for readers, in the report's language."""
    return t(f"scoring.feature.{feature}") if feature in LABELS else feature


def level_text(level: str) -> str:
    """A level for readers: the first-response bands, the pooled and the missing level in the
    report's language; any other level as the export names it."""
    return t(f"scoring.level.{_LEVEL_KEYS[level]}") if level in _LEVEL_KEYS else level


@dataclass
class LeadModel:
    """A fitted lead-scoring model and its time-split validation."""

    features: list[str]
    reference: dict[str, str]                 # each categorical feature's reference level
    levels: dict[str, list[str]]              # kept levels (others pooled as "other")
    params: pd.Series
    conf_int: pd.DataFrame
    cov: pd.DataFrame = field(default_factory=pd.DataFrame)  # of the coefficients (for joint tests)
    validation: dict[str, Any] = field(default_factory=dict)
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    rate_ratios: pd.DataFrame = field(default_factory=pd.DataFrame)
    train: tuple[str, str] = ("", "")
    test: tuple[str, str] = ("", "")
    bands: pd.Series = field(default_factory=lambda: pd.Series(0.0, index=band_names()))  # log rate vs band 0
    # features whose pooled levels had too few conversions of their own: they count as the reference
    pooled_with_reference: set[str] = field(default_factory=set)

    def design(self, leads: pd.DataFrame) -> pd.DataFrame:
        """The model's design matrix for lead rows (unknown levels → "other")."""
        cols: dict[str, np.ndarray] = {"const": np.ones(len(leads))}
        for f in self.features:
            values = _levels(leads[f], self.levels[f])
            for level in self.levels[f]:
                if level != self.reference[f]:
                    cols[f"{f}={level}"] = (values == level).to_numpy(float)
        return pd.DataFrame(cols, index=leads.index)[list(self.params.index)]

    def predict(self, leads: pd.DataFrame, *, age: np.ndarray | None = None) -> np.ndarray:
        """The chance of converting within ``MATURITY_DAYS`` of creation; with ``age`` (days
        since creation), given that the lead has not converted by then."""
        eta = self.design(leads).to_numpy(float) @ self.params.to_numpy(float)
        lo, hi = np.array(AGE_BANDS[:-1], float), np.array(AGE_BANDS[1:], float)
        start = np.zeros(len(leads)) if age is None else np.clip(np.asarray(age, float), 0, MATURITY_DAYS)
        days_left = np.clip(hi[None, :] - np.maximum(lo[None, :], start[:, None]), 0, None)
        rates = np.exp(np.clip(eta[:, None] + self.bands.to_numpy(float)[None, :], -700, 50))
        return 1 - np.exp(-(days_left * rates).sum(axis=1))


def band_names() -> list[str]:
    """The age bands' names: ``age 0–7`` (days since creation) …"""
    return [f"age {a}–{b}" for a, b in zip(AGE_BANDS[:-1], AGE_BANDS[1:], strict=True)]


def _text(values: pd.Series) -> pd.Series:
    return values.astype("str").fillna(NONE)


def _levels(values: pd.Series, kept: Sequence[str]) -> pd.Series:
    v = _text(values)
    return v.where(v.isin(list(kept)), OTHER)


def _kept_levels(values: pd.Series, converted: pd.Series) -> tuple[list[str], bool | None]:
    """A feature's levels that get a rate of their own, commonest first: at least
    ``MIN_LEVEL`` leads and ``MIN_LEVEL_CONVERSIONS`` conversions. The second value says
    what becomes of the rest: pooled as one OTHER level (True), nothing to pool (False), or
    too few conversions even together, so they count as the reference level (None).

    >>> values = pd.Series(["a"] * 60 + ["b"] * 60 + ["c"] * 10)
    >>> converted = pd.Series([True] * 9 + [False] * 51 + [False] * 60 + [True] * 2 + [False] * 8)
    >>> _kept_levels(values, converted)  # b never converts, c is rare: together 2 conversions
    (['a'], None)
    """
    counts = values.value_counts()
    wins = converted.astype(bool).groupby(values).sum()
    kept = [str(v) for v, n in counts.items() if n >= MIN_LEVEL and wins.get(v, 0) >= MIN_LEVEL_CONVERSIONS]
    rest = counts.drop(kept)
    if rest.empty:
        return kept, False
    enough = rest.sum() >= MIN_LEVEL and wins.reindex(rest.index).sum() >= MIN_LEVEL_CONVERSIONS
    return kept, True if enough else None


def _band(hours: pd.Series) -> pd.Series:
    out = pd.Series(NO_RESPONSE, index=hours.index, dtype="str")
    for limit, label in reversed(RESPONSE_BANDS):
        out = out.mask(hours <= limit, label)
    return out


def lead_frame(data: Data, *, as_of: str | pd.Timestamp | None = None,
               since: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per lead created in ``[since, as_of]``, with what was known at ``as_of``.

    ``lead_id``, ``created_at``, ``owner`` and the categorical features present, plus
    ``first_response`` (a band), ``first_week_activities`` (0, 1, 2, 3+), ``converted``
    (by ``as_of``), ``converted_in_time`` (within ``MATURITY_DAYS`` of creation),
    ``closed`` (converted, or its deal lost, by ``as_of``), ``mature``, ``age`` (days seen,
    at most ``MATURITY_DAYS``) and ``converted_age`` (days to conversion within them).
    """
    src = as_source(data)
    if not src.has("leads"):
        raise ValueError(t("scoring.needs_leads"))
    end = pd.Timestamp(as_of) if as_of is not None else data_end(src)
    key = ("lead_frame", end, None if since is None else pd.Timestamp(since))
    if key not in src.cache:
        src.cache[key] = _lead_frame(src, end, since)
    return src.cache[key].copy()


def _lead_frame(src: Any, end: pd.Timestamp, since: Any) -> pd.DataFrame:
    cols = src.columns("leads")
    wanted = ["lead_id", "created_at", *[c for c in ("owner", "channel", "region", "segment", "campaign_id",
                                                      "converted_at") if c in cols]]
    window = nw.col("created_at") <= end
    if since is not None:
        window = window & (nw.col("created_at") >= pd.Timestamp(since))
    leads = collect(src.frame("leads").select(*wanted).filter(window))
    leads["created_at"] = pd.to_datetime(leads["created_at"])
    converted_at = pd.to_datetime(leads["converted_at"]) if "converted_at" in leads else pd.Series(
        pd.NaT, index=leads.index)
    lost_at = pd.Series(pd.NaT, index=leads.index, dtype="datetime64[us]")
    if src.has("deals") and "lead_id" in src.columns("deals") and "closed_at" in src.columns("deals"):
        deals = collect(src.frame("deals").select("lead_id", "outcome", "closed_at")
                        .filter(~nw.col("lead_id").is_null() & (nw.col("closed_at") <= end)))
        deals["closed_at"] = pd.to_datetime(deals["closed_at"])
        won = deals[deals["outcome"] == "won"].groupby("lead_id")["closed_at"].min()
        lost = deals[deals["outcome"] == "lost"].groupby("lead_id")["closed_at"].min()
        # reindex, not map: a map of no leads onto no dates trips over the dtypes
        converted_at = converted_at.fillna(pd.Series(won.reindex(leads["lead_id"]).to_numpy(), index=leads.index))
        lost_at = pd.Series(pd.to_datetime(lost.reindex(leads["lead_id"]).to_numpy()), index=leads.index)
    converted_at = converted_at.where(converted_at <= end)
    leads["converted"] = converted_at.notna()
    leads["converted_in_time"] = (converted_at - leads["created_at"]) <= pd.Timedelta(days=MATURITY_DAYS)
    day = pd.Timedelta(days=1)
    # the days a lead was seen (up to the horizon) and the day it converted within it
    leads["age"] = ((end - leads["created_at"]) / day).clip(0, MATURITY_DAYS)
    leads["converted_age"] = ((converted_at - leads["created_at"]) / day).clip(lower=0).where(
        leads["converted_in_time"])
    leads["closed"] = leads["converted"] | lost_at.notna()
    leads["mature"] = leads["created_at"] <= end - pd.Timedelta(days=MATURITY_DAYS)
    # activities of the first week, as far as they had happened at as_of
    if src.has("activities") and "lead_id" in src.columns("activities"):
        acts = collect(src.frame("activities").select("lead_id", "occurred_at")
                       .filter(~nw.col("lead_id").is_null() & (nw.col("occurred_at") <= end)))
        acts["occurred_at"] = pd.to_datetime(acts["occurred_at"])
        created = leads.set_index("lead_id")["created_at"]
        acts = acts[acts["lead_id"].isin(created.index)]
        hours = (acts["occurred_at"] - acts["lead_id"].map(created)).dt.total_seconds() / 3600
        acts = acts.assign(hours=hours)[(hours >= 0) & (hours <= 24 * FIRST_DAYS)]
        per = acts.groupby("lead_id")["hours"].agg(["min", "size"])
        first = leads["lead_id"].map(per["min"])
        count = leads["lead_id"].map(per["size"]).fillna(0)
        leads["first_response"] = _band(first)
        leads["first_week_activities"] = np.minimum(count, 3).astype(int).astype(str).replace("3", "3+")
    return leads


def validation_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (the Mann–Whitney statistic; ties count half)."""
    pos, neg = p[y == 1], p[y == 0]
    if not len(pos) or not len(neg):
        return math.nan
    u = sps.mannwhitneyu(pos, neg, alternative="two-sided").statistic
    return float(u / (len(pos) * len(neg)))


def _independent(x: pd.DataFrame) -> list[str]:
    """The columns of a design that are not combinations of earlier ones: a level absent
    from these rows, or a campaign that is its channel's only one, adds nothing."""
    kept: list[str] = []
    for col in x.columns:
        if x[col].abs().sum() == 0:
            continue
        trial = x[[*kept, col]].to_numpy(float)
        if np.linalg.matrix_rank(trial) == len(kept) + 1:
            kept.append(col)
    return kept


def person_periods(leads: pd.DataFrame) -> pd.DataFrame:
    """Each lead's age bands as rows: ``lead`` (its position in ``leads``), ``band`` (0 …),
    ``exposure`` (days seen in the band) and ``event`` (it converted in the band). A lead
    is followed until it converts, until ``MATURITY_DAYS``, or until it was last seen.

    >>> leads = pd.DataFrame({"age": [90.0, 10.0, 20.0], "converted_age": [np.nan, np.nan, 3.0]})
    >>> person_periods(leads).to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'lead': [0, 0, 0, 0, 0, 1, 1, 2], 'band': [0, 1, 2, 3, 4, 0, 1, 0],
     'exposure': [7.0, 7.0, 16.0, 30.0, 30.0, 7.0, 3.0, 3.0], 'event': [0, 0, 0, 0, 0, 0, 0, 1]}
    """
    converted = leads["converted_age"].to_numpy(float)
    stop = np.where(np.isnan(converted), leads["age"].to_numpy(float), converted)
    lo, hi = np.array(AGE_BANDS[:-1], float), np.array(AGE_BANDS[1:], float)
    seen = np.minimum(hi[None, :], stop[:, None]) - lo[None, :]
    event = (~np.isnan(converted))[:, None] & (converted[:, None] >= lo[None, :]) & (
        (converted[:, None] < hi[None, :]) | ((converted[:, None] == hi[None, :]) & (hi[None, :] == MATURITY_DAYS)))
    at_risk = (seen > 0) | event
    lead, band = np.nonzero(at_risk)
    return pd.DataFrame({"lead": lead, "band": band,
                         "exposure": np.maximum(seen[lead, band], MIN_EXPOSURE),
                         "event": event[lead, band].astype(int)})


def _hazard(leads: pd.DataFrame, x: pd.DataFrame) -> Any:
    """The Poisson GLM of the person-periods: events on the lead's design and the age bands,
    the log of the exposure as offset."""
    import statsmodels.api as sm

    rows = person_periods(leads)
    n_bands = len(AGE_BANDS) - 1
    # person-periods with the same design are one row with their events and exposures summed:
    # the Poisson likelihood (and so the estimates and their covariance) depends on nothing
    # else, and a few hundred distinct rows fit in milliseconds where 100,000s took seconds
    profiles, profile = np.unique(x.to_numpy(float), axis=0, return_inverse=True)  # the leads' distinct designs
    cells, which = np.unique(profile.ravel()[rows["lead"].to_numpy()] * n_bands + rows["band"].to_numpy(),
                             return_inverse=True)
    events = np.bincount(which, weights=rows["event"].to_numpy(float), minlength=len(cells))
    exposure = np.bincount(which, weights=rows["exposure"].to_numpy(float), minlength=len(cells))
    bands = np.eye(n_bands)[cells % n_bands]
    design = np.hstack([profiles[cells // n_bands], bands[:, 1:]])
    names = [*x.columns, *band_names()[1:]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a tiny level that never converts is reported by its interval
        return sm.GLM(events, pd.DataFrame(design, columns=names),
                      family=sm.families.Poisson(), offset=np.log(exposure)).fit()


def fit(data: Data, *, as_of: str | pd.Timestamp | None = None,
        features: Sequence[str] | None = None) -> LeadModel:
    """Fit and validate the lead-scoring hazard model at ``as_of`` (default: the data's end).

    ``features`` (default :data:`FEATURES`, those the data has) may name fewer. Raises
    ``ValueError`` when there are too few leads or conversions (observed at any age) to fit.
    """
    src = as_source(data)
    end = pd.Timestamp(as_of) if as_of is not None else data_end(src)
    mature_end = end - pd.Timedelta(days=MATURITY_DAYS)
    start = (mature_end.to_period("M") - TRAIN_MONTHS + 1).start_time
    leads = lead_frame(src, as_of=end, since=start).reset_index(drop=True)
    observed = int(leads["converted_in_time"].sum())
    if len(leads) < 200 or observed < 20:
        raise ValueError(t("scoring.too_few", leads=len(leads), conversions=observed))
    names = [f for f in (features or FEATURES) if f in leads.columns and leads[f].nunique() > 1]
    if not names:
        raise ValueError(t("scoring.no_feature"))
    split = (mature_end.to_period("M") - TEST_MONTHS + 1).start_time
    train = leads[leads["created_at"] < split].reset_index(drop=True)
    test = leads[(leads["created_at"] >= split) & leads["mature"]].reset_index(drop=True)

    def prepare(rows: pd.DataFrame) -> LeadModel:
        levels, reference, with_reference = {}, {}, set()
        for f in names:
            kept, pooled = _kept_levels(_text(rows[f]), rows["converted_in_time"])
            if pooled is None:
                with_reference.add(f)
            levels[f] = [*kept, *([OTHER] if pooled else [])]
            reference[f] = kept[0] if kept else OTHER  # the commonest level that can be estimated
        skeleton = LeadModel(names, reference, levels, pd.Series(dtype=float), pd.DataFrame(),
                             pooled_with_reference=with_reference)
        cols = ["const"] + [f"{f}={lv}" for f in names for lv in levels[f] if lv != reference[f]]
        skeleton.params = pd.Series(0.0, index=cols)
        skeleton.params = pd.Series(0.0, index=_independent(skeleton.design(rows)))
        res = _hazard(rows, skeleton.design(rows))
        k = len(skeleton.params)
        skeleton.params, skeleton.conf_int = res.params.iloc[:k], res.conf_int().iloc[:k]
        skeleton.cov = res.cov_params().iloc[:k, :k]
        skeleton.bands = pd.Series([0.0, *res.params.iloc[k:]], index=band_names())
        return skeleton

    # a funnel too young to hold out its newest matured cohorts is fitted, not judged
    judged = len(train) >= 50 and train["converted_in_time"].sum() >= 5 and len(test) > 0
    p = prepare(train).predict(test) if judged else np.array([])
    y = test["converted_in_time"].to_numpy(int) if judged else np.array([], int)
    model = prepare(leads)
    model.train = (str(leads["created_at"].min().date()), str(end.date()))
    model.test = (str(split.date()), str(mature_end.date()))
    model.validation = _validate(y, p, len(train))
    model.calibration = _calibration_table(y, p)
    model.rate_ratios = _rate_ratios(model)
    return model


def _validate(y: np.ndarray, p: np.ndarray, n_train: int) -> dict[str, Any]:
    out: dict[str, Any] = {"n_train": n_train, "n_test": int(len(y)), "conversions_test": int(y.sum()),
                           "auc": validation_auc(y, p), "calibration_slope": math.nan,
                           "calibration_intercept": math.nan, "top_decile_lift": math.nan}
    if len(y) >= 50 and 0 < y.sum() < len(y):
        import statsmodels.api as sm

        eta = np.log(np.clip(p, 1e-9, 1 - 1e-9) / np.clip(1 - p, 1e-9, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sm.Logit(y, sm.add_constant(eta)).fit(disp=0)
        out["calibration_intercept"], out["calibration_slope"] = (float(v) for v in res.params)
        top = p >= np.quantile(p, 0.9)
        out["top_decile_lift"] = float(y[top].mean() / y.mean()) if y.mean() > 0 else math.nan
    return out


def _calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Predicted against observed conversion in ten bins of the predicted chance."""
    if not len(y):
        return pd.DataFrame(columns=["bin", "predicted", "observed", "leads"])
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    df = pd.DataFrame({"bin": which, "p": p, "y": y})
    return (df.groupby("bin").agg(predicted=("p", "mean"), observed=("y", "mean"), leads=("y", "size"))
            .reset_index())


def _odds(log_odds: float) -> float:
    """exp, without overflowing on a level that separates perfectly (an interval to infinity)."""
    return float(np.exp(np.clip(log_odds, -700.0, 700.0)))


def _rate_ratios(model: LeadModel) -> pd.DataFrame:
    """How many times as often leads of a level convert on any day as leads of the
    reference level (the model's rate ratios), with 95% intervals."""
    rows = []
    for name in model.params.index:
        if name == "const":
            continue
        feature, level = name.split("=", 1)
        lo, hi = model.conf_int.loc[name]
        against = level_text(model.reference[feature])
        if feature in model.pooled_with_reference:  # (the rare levels count as the reference)
            against = f"{against} + {level_text(OTHER)}"
        rows.append({"feature": feature_label(feature), "level": level_text(level),
                     "against": against, "rate_ratio": _odds(model.params[name]),
                     "ci_low": _odds(lo), "ci_high": _odds(hi)})
    return pd.DataFrame(rows, columns=["feature", "level", "against", "rate_ratio", "ci_low", "ci_high"])


def _reasons(model: LeadModel, leads: pd.DataFrame, top: int = 2) -> list[str]:
    """Each lead's features that raise its odds most against the reference levels."""
    contrib = (model.design(leads).drop(columns=["const"]) * model.params.drop("const")).to_numpy(float)
    names = [n for n in model.params.index if n != "const"]
    words = [f"{feature_label(n.split('=')[0])}: {level_text(n.split('=', 1)[1])}" for n in names]
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
    out = []
    for row, idx in zip(contrib, order, strict=True):
        parts = [t("scoring.reason", feature=words[i], odds=texts.number(_odds(row[i]), 1)) for i in idx if row[i] > 0]
        out.append("; ".join(parts) or t("scoring.no_reason"))
    return out


def score_leads(data: Data, *, as_of: str | pd.Timestamp | None = None,
                model: LeadModel | None = None) -> pd.DataFrame:
    """The leads open at ``as_of``, ranked per owner by their chance of converting.

    Trained only on what was known at ``as_of`` (pass a :func:`fit` result to reuse it).
    Returns ``lead_id``, ``owner``, ``created_at``, ``score`` (probability of converting
    within ``MATURITY_DAYS`` of creation, given that it has not converted by ``as_of``),
    ``rank`` (within the owner), ``reasons``.
    """
    src = as_source(data)
    end = pd.Timestamp(as_of) if as_of is not None else data_end(src)
    model = model or fit(src, as_of=end)
    # the frame the fit read (cached) holds the young leads too
    start = ((end - pd.Timedelta(days=MATURITY_DAYS)).to_period("M") - TRAIN_MONTHS + 1).start_time
    leads = lead_frame(src, as_of=end, since=start)
    open_ = leads[~leads["closed"] & ~leads["mature"]].copy()
    if "owner" not in open_:
        open_["owner"] = "(none)"
    # the chance of converting within the horizon, given it has not converted yet
    open_["score"] = model.predict(open_, age=open_["age"].to_numpy(float))
    open_["reasons"] = _reasons(model, open_) if len(open_) else []
    open_ = open_.sort_values(["owner", "score"], ascending=[True, False])
    open_["rank"] = open_.groupby("owner").cumcount() + 1
    return open_[["lead_id", "owner", "created_at", "score", "rank", "reasons"]].reset_index(drop=True)


def fit_or_note(data: Data, *, as_of: str | pd.Timestamp | None = None) -> tuple[LeadModel | None, str]:
    """:func:`fit`, or ``None`` and the reason in one line when the data cannot carry it."""
    try:
        return fit(data, as_of=as_of), ""
    except ValueError as exc:
        return None, str(exc)


def validation_lines(model: LeadModel) -> list[str]:
    """The time-split validation in sentences a manager can read."""
    v = model.validation
    day = texts.day
    lines = [t("scoring.fitted", train=day(pd.Timestamp(model.train[0])), test=day(pd.Timestamp(model.test[0])),
               end=day(pd.Timestamp(model.test[1])), n=texts.number(v["n_test"]),
               converted=texts.number(v["conversions_test"]), days=MATURITY_DAYS)]
    if not v["n_test"]:
        return [t("scoring.not_judged", days=MATURITY_DAYS)]
    lines.append(t("scoring.auc", auc=texts.number(v["auc"], 2), share=texts.percent(v["auc"], 0)))
    if v["calibration_slope"] == v["calibration_slope"]:
        lines.append(t("scoring.calibration", slope=texts.number(v["calibration_slope"], 2),
                       intercept=("+" if v["calibration_intercept"] >= 0 else "-")
                       + texts.number(abs(v["calibration_intercept"]), 2)))
    if v["top_decile_lift"] == v["top_decile_lift"]:
        lines.append(t("scoring.lift", lift=texts.number(v["top_decile_lift"], 1)))
    return lines
