"""FeatureServices: the contract a model names in its manifest, read the same way in training and serving."""

from feast import FeatureService
from request_time import request_time
from views import creator_stats, user_stats, video_stats, video_velocity

USER_LONG_TERM = [
    f"{m}_{w}"
    for w in ("7d", "28d")
    for m in (
        "views",
        "long_views",
        "likes",
        "shares",
        "saves",
        "comments",
        "follows",
        "skips",
        "sessions",
        "like_rate",
        "long_view_rate",
        "share_rate",
        "mean_watch_fraction",
    )
]

two_tower_user = FeatureService(
    name="two_tower_user",
    features=[user_stats[USER_LONG_TERM + ["active_days_7d", "active_days_28d", "days_since_signup"]]],
    description="User-tower inputs of the two-tower retrieval model: long-term activity.",
)

first_stage = FeatureService(
    name="first_stage",
    features=[
        user_stats[
            [
                f"{m}_{w}"
                for w in ("24h", "7d")
                for m in ("views", "likes", "like_rate", "long_view_rate", "mean_watch_fraction")
            ]
        ],
        video_stats,
        video_velocity,
        creator_stats[["views_7d", "like_rate_7d", "long_view_rate_7d", "followers", "is_new_creator"]],
        request_time,
    ],
    description="First-stage XGBoost ranker: cheap user, video, creator and request-time features.",
)

reranker = FeatureService(
    name="reranker",
    features=[user_stats, video_stats, video_velocity, creator_stats, request_time],
    description="Multi-task re-ranker: every user, video, creator, velocity and request-time feature.",
)
