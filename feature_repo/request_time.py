"""Request-time features: computed at read time from the request and stored video metadata (python mode)."""

from typing import Any

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
    mode="python",
)
def request_time(inputs: dict[str, Any]) -> dict[str, Any]:
    """Video age at request time, the request's UTC hour of day and whether it falls on a weekend."""
    # Constants live inside: Feast ships the function's source to the registry, not its module.
    seconds_per_day = 86_400.0
    epoch_weekday = 3  # 1970-01-01 was a Thursday (Monday = 0)
    ages, hours, weekends = [], [], []
    for uploaded, now in zip(inputs["uploaded_at_epoch_s"], inputs["request_ts_s"], strict=True):
        ages.append(max(0.0, (now - uploaded) / 3600.0) if uploaded is not None else -1.0)
        hours.append(float(int(now % seconds_per_day) // 3600))
        weekday = (int(now // seconds_per_day) + epoch_weekday) % 7
        weekends.append(1.0 if weekday >= 5 else 0.0)
    out = {"video_age_hours": ages, "hour_of_day": hours, "is_weekend": weekends}
    # Feast 0.67 matches python-mode outputs against *prefixed* names when full_feature_names=True and drops
    # unprefixed ones silently, so publish both spellings.
    return out | {f"request_time__{name}": values for name, values in out.items()}
