"""Arrow tables shaped like the event-log tables, built column-wise (no per-row Python for events)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from foryou.schema import DEVICES, EVENT_TYPES
from worldsim.config import REGIONS
from worldsim.events import EventColumns, Impressions
from worldsim.graph import Edges
from worldsim.population import AGE_BUCKETS
from worldsim.world import World

TS = pa.timestamp("ms", tz="UTC")


def timestamps(ms: np.ndarray) -> pa.Array:
    """int64 epoch milliseconds → timestamptz column."""
    return pa.array(np.asarray(ms, dtype=np.int64), type=pa.int64()).cast(TS)


def labels(names: tuple[str, ...], index: np.ndarray) -> pa.Array:
    """Small-integer codes → their text labels."""
    return pa.array(list(names), type=pa.string()).take(pa.array(np.asarray(index, dtype=np.int64)))


def prefixed(prefix: str, numbers: np.ndarray, suffix: pa.Array | None = None) -> pa.Array:
    """prefix + str(number) (+ suffix), vectorised in Arrow."""
    parts: list[pa.Array | pa.Scalar] = [
        pa.scalar(prefix),
        pc.cast(pa.array(numbers, type=pa.int64()), pa.string()),
    ]
    if suffix is not None:
        parts.append(suffix)
    return pc.binary_join_element_wise(*parts, "")


def array_literals(matrix: np.ndarray) -> pa.Array:
    """Rows of a float32 matrix → Postgres array literals '{a,b,…}' (shortest round-trip floats)."""
    n, d = matrix.shape
    flat = pc.cast(pa.array(np.ascontiguousarray(matrix, dtype=np.float32).ravel()), pa.string())
    lists = pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32) * d), flat)
    return pc.binary_join_element_wise(pa.scalar("{"), pc.binary_join(lists, ","), pa.scalar("}"), "")


def nullable(values: np.ndarray, null: np.ndarray, type_: pa.DataType) -> pa.Array:
    """A column with NULL where `null` is true."""
    return pa.array(values, type=type_, mask=null)


def users_table(world: World) -> pa.Table:
    u = world.users
    attributes = [json.dumps({"age_bucket": AGE_BUCKETS[a]}) for a in u.age_bucket.tolist()]
    return pa.table(
        {
            "user_id": pa.array(np.arange(len(u)), type=pa.int64()),
            "region": labels(REGIONS, u.region),
            "device": labels(DEVICES, u.device),
            "signup_at": timestamps(u.signup_ms),
            "attributes": pa.array(attributes, type=pa.string()),
        }
    )


def creators_table(world: World) -> pa.Table:
    c = world.creators
    # "Verified" is observable and tracks fame: the top 2% of creators by fame.
    verified = c.fame >= np.quantile(c.fame, 0.98)
    attributes = [
        json.dumps({"home_region": REGIONS[r], "verified": bool(v)})
        for r, v in zip(c.home_region.tolist(), verified.tolist(), strict=True)
    ]
    return pa.table(
        {
            "creator_id": pa.array(np.arange(len(c)), type=pa.int64()),
            "joined_at": timestamps(c.joined_ms),
            "attributes": pa.array(attributes, type=pa.string()),
        }
    )


def videos_table(world: World) -> pa.Table:
    v = world.videos
    titles, tags = world.titles_and_tags()
    regions = np.array(REGIONS)
    allowed: list[str | None] = [None] * len(v)
    for i in np.flatnonzero(v.allowed_mask).tolist():
        bits = (int(v.allowed_mask[i]) >> np.arange(len(REGIONS))) & 1
        allowed[i] = "{" + ",".join(regions[bits == 1]) + "}"
    return pa.table(
        {
            "video_id": pa.array(np.arange(len(v)), type=pa.int64()),
            "creator_id": pa.array(v.creator, type=pa.int64()),
            "uploaded_at": timestamps(v.uploaded_ms),
            "duration_s": pa.array(v.duration_s, type=pa.float32()),
            "title": pa.array(titles, type=pa.string()),
            "tags": pa.array(["{" + ",".join(t) + "}" for t in tags], type=pa.string()),
            "allowed_regions": pa.array(allowed, type=pa.string()),
            "flagged": pa.array(v.flagged, type=pa.bool_()),
            "visual_vec": array_literals(world.content["visual"]),
            "text_vec": array_literals(world.content["text"]),
            "audio_vec": array_literals(world.content["audio"]),
        }
    )


def edges_table(edges: Edges) -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array(edges.user, type=pa.int64()),
            "creator_id": pa.array(edges.creator, type=pa.int64()),
            "ts": timestamps(edges.ms),
        }
    )


def events_table(seed: int, events: EventColumns, imps: Impressions) -> pa.Table:
    """The events rows of one day; ids are sim-{seed}-{n}, sessions sim-{seed}-s{n}, requests …-p{page}."""
    i = events.impression
    session = prefixed(f"sim-{seed}-s", imps.session[i])
    request = pc.binary_join_element_wise(session, prefixed("-p", imps.page[i]), "")
    return pa.table(
        {
            "event_id": prefixed(f"sim-{seed}-", events.event_no),
            "user_id": pa.array(imps.user[i], type=pa.int64()),
            "video_id": pa.array(imps.video[i], type=pa.int64()),
            "event_type": labels(EVENT_TYPES, events.event_type),
            "ts": timestamps(events.ms),
            "dwell_ms": nullable(events.dwell_ms, events.dwell_ms < 0, pa.int32()),
            "watch_fraction": nullable(events.watch_fraction, np.isnan(events.watch_fraction), pa.float32()),
            "session_id": session,
            "request_id": request,
            "position": pa.array(imps.position[i], type=pa.int32()),
            "device": labels(DEVICES, imps.device[i]),
            "region": labels(REGIONS, imps.region[i]),
            "propensity": nullable(events.propensity, np.isnan(events.propensity), pa.float32()),
        }
    )
