"""Every statistic salesnb uses, on small sufficient statistics (see each module).

- :mod:`~salesnb.stats.summaries`: what a KPI is summarised to, and :class:`Change`;
- :mod:`~salesnb.stats.calendar`: weekdays and public holidays;
- :mod:`~salesnb.stats.flows`: counts and sums on daily totals (quasi-Poisson with calendar terms);
- :mod:`~salesnb.stats.two_sample`: the comparison per KPI kind, target attainment, BH q-values.

Light imports: this package and the modules it loads import statsmodels and scipy.stats
(two seconds) inside the functions that use them, so that what only describes a KPI (the
registry, the summaries, the publisher's check of params before any page runs) stays light.
"""

from salesnb.stats.calendar import Calendar, calendar_of
from salesnb.stats.flows import daily_flow_change
from salesnb.stats.summaries import Change, Counts, Daily, Moments, Proportion, RatioMoments, Sample, Summary
from salesnb.stats.two_sample import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    attainment,
    bh_qvalues,
    binomial_dispersion,
    cluster_ratio_var,
    two_sample,
)

__all__ = ["Daily", "Counts", "Proportion", "Moments", "Sample", "RatioMoments", "Summary", "Change",
           "Calendar", "calendar_of", "daily_flow_change", "two_sample", "attainment", "bh_qvalues",
           "binomial_dispersion", "cluster_ratio_var", "BOOTSTRAP_SEED", "BOOTSTRAP_RESAMPLES"]
