"""Entities: the join keys every feature view hangs off (64-bit integer ids, as in the event log)."""

from feast import Entity, ValueType

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64, description="A viewer.")
video = Entity(name="video", join_keys=["video_id"], value_type=ValueType.INT64, description="A short video.")
creator = Entity(
    name="creator", join_keys=["creator_id"], value_type=ValueType.INT64, description="A video's author."
)
