"""Sources: the timestamped feature tables `foryou features build` writes in Postgres schema `features`."""

from feast import PushSource
from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import PostgreSQLSource


def feature_table(name: str) -> PostgreSQLSource:
    """A Postgres feature table as a Feast source (`query=`, as the contrib store prefers)."""
    return PostgreSQLSource(
        name=f"{name}_source",
        query=f"SELECT * FROM features.{name}",
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
    )


user_stats_source = feature_table("user_stats")
creator_stats_source = feature_table("creator_stats")
video_stats_source = feature_table("video_stats")
video_velocity_source = feature_table("video_velocity")

# Serving pushes fresh velocity rows straight to the online store (store.push(..., to=PushMode.ONLINE)).
video_velocity_push = PushSource(name="video_velocity_push", batch_source=video_velocity_source)
