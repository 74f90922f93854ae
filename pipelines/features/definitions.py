"""Constants the feature definitions share; docs/features.md quotes them.

Changing one changes the meaning of a feature: bump the affected views (truncate them and their build_state
rows, then rebuild) so a table never mixes two definitions.
"""

from __future__ import annotations

from datetime import timedelta

# Emission grain: a row's event_timestamp is always a multiple of GRAIN since the Unix epoch, and holds the
# events of every bucket (T - GRAIN, T] up to it. A reader at time t sees the row at the last boundary <= t
# (or an earlier one when nothing changed), so values lag the events by less than GRAIN.
GRAIN = timedelta(minutes=5)

# A view event is a long view when the video was watched for at least this fraction of its length.
LONG_VIEW_FRACTION = 0.75

# Smoothed rate = (k + prior * strength) / (views + strength), with k capped at views. The priors are global
# constants (not fitted on the data), so a row depends only on events up to its own timestamp.
PRIORS: dict[str, float] = {
    "like": 0.05,
    "long_view": 0.30,
    "share": 0.01,
    "save": 0.02,
    "follow": 0.005,
}
STRENGTH: dict[str, float] = {
    "user": 20.0,
    "creator": 100.0,
    "video": 50.0,
}

# mean_watch_fraction when its window holds no view with a watch fraction (the count columns tell the model
# that nothing was watched; 0 keeps the column numeric).
EMPTY_MEAN_WATCH_FRACTION = 0.0
