"""Request-time features: computed at read time from the request and stored video metadata.

Pandas mode, not python mode: Feast 0.67 drops python-mode outputs when full_feature_names=True online
(it matches them against prefixed names), and prefixed outputs collide offline. Serving does not pay for
pandas here: serving/online_features.py computes the same formula vectorised (tests compare the two).
"""

import pandas as pd
from feast import Field, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64
from views import video_stats

request_context = RequestSource(
    name="request_context",
    schema=[Field(name="request_ts_s", dtype=Float64)],
    description="The request's time as unix seconds (UTC).",
)


@on_demand_feature_view(
    sources=[video_stats[["uploaded_at_epoch_s"]], request_context],
    schema=[
        Field(name="video_age_hours", dtype=Float64),
        Field(name="hour_of_day", dtype=Float64),
        Field(name="is_weekend", dtype=Float64),
    ],
    mode="pandas",
)
def request_time(inputs: pd.DataFrame) -> pd.DataFrame:
    """Video age at request time (−1 when unknown), the request's UTC hour of day, and weekend or not."""
    # Constants live inside: Feast ships the function's source to the registry, not its module.
    seconds_per_day = 86_400.0
    epoch_weekday = 3  # 1970-01-01 was a Thursday (Monday = 0)
    now = inputs["request_ts_s"].astype("float64")
    uploaded = inputs["uploaded_at_epoch_s"].astype("float64")
    out = pd.DataFrame(index=inputs.index)
    out["video_age_hours"] = ((now - uploaded) / 3600.0).clip(lower=0.0).where(uploaded.notna(), -1.0)
    out["hour_of_day"] = ((now % seconds_per_day) // 3600).astype("float64")
    out["is_weekend"] = (((now // seconds_per_day + epoch_weekday) % 7) >= 5).astype("float64")
    return out
