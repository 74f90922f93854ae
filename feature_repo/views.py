"""Feature views over the feature tables. Numeric features are Float64 online (counts exact below 2**53).

Column names are the contract with pipelines/features (see docs/features.md for each definition).
"""

from datetime import timedelta

from entities import creator, user, video
from feast import FeatureView, Field
from feast.types import Float64
from sources import creator_stats_source, user_stats_source, video_stats_source, video_velocity_push

USER_WINDOWS = ("1h", "24h", "7d", "28d")
USER_COUNTS = (
    "impressions",
    "views",
    "long_views",
    "likes",
    "shares",
    "saves",
    "comments",
    "follows",
    "skips",
    "sessions",
)
USER_RATES = ("like_rate", "long_view_rate", "share_rate", "mean_watch_fraction")
CREATOR_WINDOWS = ("7d", "28d")
CREATOR_METRICS = ("uploads", "views", "like_rate", "long_view_rate", "share_rate", "follow_rate")
VIDEO_FEATURES = (
    "creator_id",
    "duration_s",
    "uploaded_at_epoch_s",
    "impressions_total",
    "views_total",
    "long_views_total",
    "likes_total",
    "shares_total",
    "saves_total",
    "comments_total",
    "like_rate",
    "long_view_rate",
    "share_rate",
    "save_rate",
    "mean_watch_fraction",
    "popularity_pct",
)
VELOCITY_FEATURES = ("views_15m", "likes_15m", "views_1h", "likes_1h", "velocity", "acceleration")


def float_fields(names: list[str] | tuple[str, ...]) -> list[Field]:
    return [Field(name=name, dtype=Float64) for name in names]


user_stats = FeatureView(
    name="user_stats",
    entities=[user],
    ttl=timedelta(days=90),
    schema=float_fields(
        [f"{m}_{w}" for w in USER_WINDOWS for m in USER_COUNTS + USER_RATES]
        + ["active_days_7d", "active_days_28d", "days_since_signup"]
    ),
    source=user_stats_source,
    online=True,
    description="A viewer's activity over 1h / 24h / 7d / 28d windows (expiry rows keep windows right).",
)

creator_stats = FeatureView(
    name="creator_stats",
    entities=[creator],
    ttl=timedelta(days=90),
    schema=float_fields(
        [f"{m}_{w}" for w in CREATOR_WINDOWS for m in CREATOR_METRICS] + ["followers", "is_new_creator"]
    ),
    source=creator_stats_source,
    online=True,
    description="A creator's uploads and audience response over 7d / 28d.",
)

video_stats = FeatureView(
    name="video_stats",
    entities=[video],
    ttl=timedelta(days=365),
    schema=float_fields(VIDEO_FEATURES),
    source=video_stats_source,
    online=True,
    description="A video's metadata and lifetime engagement (zero row at upload: new videos have features).",
)

video_velocity = FeatureView(
    name="video_velocity",
    entities=[video],
    ttl=timedelta(days=2),
    schema=float_fields(VELOCITY_FEATURES),
    source=video_velocity_push,
    online=True,
    description="Views and likes over 15 min and 1 h, velocity, acceleration; pushed live by serving.",
)
