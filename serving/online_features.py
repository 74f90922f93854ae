"""Online feature reads for the re-ranker: every FeatureService feature for one user and ~300 candidates.

Built once per process from the registry: the views of the service, their entity, the Redis hash field keys
(murmur3 of `view:feature`, Feast's layout) and pre-packed RESP fragments. `read` sends ONE pipelined batch of
HMGETs (the user key, each distinct video key with the fields of every video-keyed view, each distinct
creator key) closed by an ECHO of a per-request token, takes the raw reply bytes up to that token and parses
them with numpy (`parse_hmget_doubles`: the 9-byte ValueProto doubles are read straight out of the buffer,
no Python object per cell, so no allocation churn and no GC pause inside a read). Anything that parse does
not accept (an error reply, a value that is not a double) falls back to hiredis and a generic ValueProto
decode. The python-mode `request_time` on-demand view is computed vectorised with the formula of
feature_repo/request_time.py.

Semantics follow stock `get_online_features`: missing entity / field / empty ValueProto → NaN (stock: None);
no ttl filtering (stock online reads ignore a view's ttl).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.materialize.redis_codec import (
    DOUBLE_LEN,
    DOUBLE_TAG,
    decode_value,
    entity_key_prefix,
    parse_hmget_doubles,
    resp_bulk,
)
from pipelines.materialize.resp_connection import RespConnection

if TYPE_CHECKING:
    from feast import FeatureStore

SECONDS_PER_DAY = 86_400.0
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)
ENTITY_ARGS = {"user_id": "user", "video_id": "video", "creator_id": "creator"}


@dataclass(frozen=True)
class OnlineFeatures:
    """Features for the candidates: `values[i, j]` is feature `names[j]` for candidate i (NaN = missing)."""

    names: list[str]
    values: np.ndarray

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: self.values[:, j] for j, name in enumerate(self.names)}


@dataclass
class _Group:
    """All views keyed by one join key: one HMGET per entity with their fields concatenated.

    A command is `head` + the entity id (8 bytes, little-endian) + `tail`, so commands for many ids are laid
    out as one uint8 matrix; `src`/`dst` map the HMGET fields to the reader's output columns."""

    join_key: str
    columns: list[str]  # full names view__feature, in field order
    head: np.ndarray  # RESP up to the id inside the key (HMGET, key length, entity key prefix)
    tail: np.ndarray  # project suffix of the key, the field keys, CRLF
    n_fields: int
    src: np.ndarray  # field positions that are output columns …
    dst: np.ndarray  # … and those columns
    uploaded: int | None  # field position of video_stats.uploaded_at_epoch_s (request_time input), if here


def _decode(raw: list[Any], n: int) -> np.ndarray:
    """Flattened HMGET values → float64 (NaN for missing/empty; generic decode for non-double ValueProtos)."""
    if not n:
        return np.full(n, np.nan)
    try:
        lengths = np.fromiter(map(len, raw), dtype=np.int64, count=n)
    except TypeError:  # a None (missing field or entity)
        raw = [v or b"" for v in raw]
        lengths = np.fromiter(map(len, raw), dtype=np.int64, count=n)
    nine = lengths == DOUBLE_LEN
    if nine.all():
        buf = np.frombuffer(b"".join(raw), dtype=np.uint8).reshape(n, DOUBLE_LEN)
        if (buf[:, 0] == DOUBLE_TAG).all():
            return np.ascontiguousarray(buf[:, 1:]).view("<f8").ravel()
    out = np.full(n, np.nan)
    idx = np.flatnonzero(nine)
    if len(idx):
        joined = b"".join([raw[i] for i in idx.tolist()]) if len(idx) < n else b"".join(raw)
        buf = np.frombuffer(joined, dtype=np.uint8).reshape(-1, DOUBLE_LEN)
        doubles = np.ascontiguousarray(buf[:, 1:]).view("<f8").ravel()
        tagged = buf[:, 0] == DOUBLE_TAG
        out[idx[tagged]] = doubles[tagged]
        for i in idx[~tagged].tolist():
            out[i] = decode_value(raw[i])
    for i in np.flatnonzero((lengths > 0) & ~nine).tolist():
        out[i] = decode_value(raw[i])
    return out


class OnlineFeatureReader:
    """Read a FeatureService (default `reranker`) for one user and many (video, creator) candidates.

    Holds one Redis connection: build one reader per process (or per thread), not per request.
    """

    def __init__(self, store: FeatureStore, service_name: str = "reranker") -> None:
        from feast.infra.online_stores.helpers import _mmh3
        from feast.infra.online_stores.redis import _versioned_fv_name

        self.project = store.project
        service = store.get_feature_service(service_name)
        views = {fv.name: fv for fv in store.list_feature_views()}
        odfvs = {v.name: v for v in store.list_on_demand_feature_views()}
        group_fields: dict[str, list[tuple[str, bytes]]] = {}
        self.names: list[str] = []
        self._odfv: list[tuple[str, list[str]]] = []
        for proj in service.feature_view_projections:
            name = proj.name_to_use()
            feats = [f.name for f in proj.features]
            if proj.name in odfvs:
                if proj.name != "request_time":
                    raise ValueError(f"on-demand view {proj.name} has no vectorised implementation here")
                self._odfv.append((name, feats))
                self.names += [f"{name}__{f}" for f in feats]
                continue
            fv = views[proj.name]
            if len(fv.join_keys) != 1 or fv.join_keys[0] not in ENTITY_ARGS:
                raise ValueError(f"view {fv.name}: join keys {fv.join_keys} not supported")
            hashed = _versioned_fv_name(fv, store.config)
            group_fields.setdefault(fv.join_keys[0], []).extend(
                (f"{name}__{f}", _mmh3(f"{hashed}:{f}")) for f in feats
            )
            self.names += [f"{name}__{f}" for f in feats]
        # request_time needs video_stats.uploaded_at_epoch_s even if the service does not list it
        self._uploaded_col = "video_stats__uploaded_at_epoch_s"
        if self._odfv and all(c != self._uploaded_col for c, _ in group_fields.get("video_id", [])):
            hashed = _versioned_fv_name(views["video_stats"], store.config)
            group_fields.setdefault("video_id", []).append(
                (self._uploaded_col, _mmh3(f"{hashed}:uploaded_at_epoch_s"))
            )
        self._col_index = {n: j for j, n in enumerate(self.names)}
        self._groups = {jk: self._group(jk, fields) for jk, fields in group_fields.items()}
        self._conn = RespConnection.from_feast(store.config.online_store.connection_string)
        self._token, self._requests = os.urandom(8), 0

    def _group(self, join_key: str, fields: list[tuple[str, bytes]]) -> _Group:
        columns = [c for c, _ in fields]
        key_len = len(entity_key_prefix(join_key)) + 8 + len(self.project)
        head = b"*%d\r\n$5\r\nHMGET\r\n$%d\r\n" % (2 + len(fields), key_len) + entity_key_prefix(join_key)
        tail = self.project.encode() + b"".join(b"\r\n" + resp_bulk(k)[:-2] for _, k in fields) + b"\r\n"
        src = [j for j, c in enumerate(columns) if c in self._col_index]
        return _Group(
            join_key=join_key,
            columns=columns,
            head=np.frombuffer(head, dtype=np.uint8),
            tail=np.frombuffer(tail, dtype=np.uint8),
            n_fields=len(fields),
            src=np.array(src, dtype=np.intp),
            dst=np.array([self._col_index[columns[j]] for j in src], dtype=np.intp),
            uploaded=columns.index(self._uploaded_col) if self._uploaded_col in columns else None,
        )

    def close(self) -> None:
        self._conn.close()

    def _payload(self, per_key: dict[str, tuple[np.ndarray, np.ndarray]], end: bytes) -> np.ndarray:
        """Every group's HMGETs (`head` + id + `tail` per key) and `end`, laid out in one uint8 buffer."""
        groups = list(self._groups.values())
        widths = [len(g.head) + 8 + len(g.tail) for g in groups]
        counts = [len(per_key[g.join_key][0]) for g in groups]
        out = np.empty(sum(w * m for w, m in zip(widths, counts, strict=True)) + len(end), dtype=np.uint8)
        pos = 0
        for g, w, m in zip(groups, widths, counts, strict=True):
            rows, h = out[pos : pos + w * m].reshape(m, w), len(g.head)
            rows[:, :h] = g.head
            rows[:, h : h + 8] = (
                np.ascontiguousarray(per_key[g.join_key][0], dtype="<i8").view(np.uint8).reshape(m, 8)
            )
            rows[:, h + 8 :] = g.tail
            pos += w * m
        out[pos:] = np.frombuffer(end, dtype=np.uint8)
        return out

    def _fetch(self, per_key: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """One round trip: every group's HMGETs, then an ECHO of a fresh token that ends the replies."""
        self._requests += 1
        token = self._token + self._requests.to_bytes(8, "little")
        marker = b"$16\r\n" + token + b"\r\n"
        payload = self._payload(per_key, b"*2\r\n$4\r\nECHO\r\n" + marker)
        raw = self._conn.exchange_raw(payload.data, marker)
        layout = [(len(per_key[g.join_key][0]), g.n_fields) for g in self._groups.values()]
        parsed = parse_hmget_doubles(raw[: len(raw) - len(marker)], layout)
        if parsed is not None:
            return parsed
        # not all doubles (or an error reply): hiredis and the generic ValueProto decode
        replies = self._conn.replies_of_raw(raw, sum(m for m, _ in layout) + 1)
        out, pos = [], 0
        for m, f in layout:
            flat = list(chain.from_iterable(replies[pos : pos + m]))
            out.append(_decode(flat, len(flat)).reshape(m, f))
            pos += m
        return out

    def read(
        self, user_id: int, video_ids: np.ndarray, creator_ids: np.ndarray, request_ts_s: float
    ) -> OnlineFeatures:
        video_ids = np.asarray(video_ids, dtype=np.int64)
        creator_ids = np.asarray(creator_ids, dtype=np.int64)
        n = len(video_ids)
        if len(creator_ids) != n:
            raise ValueError("video_ids and creator_ids must have the same length")
        per_key = {
            "user_id": (np.array([user_id], dtype=np.int64), np.zeros(n, dtype=np.int64)),
            "video_id": np.unique(video_ids, return_inverse=True),
            "creator_id": np.unique(creator_ids, return_inverse=True),
        }
        out = np.empty((n, len(self.names)))
        uploaded = np.full(n, np.nan)
        for group, values in zip(self._groups.values(), self._fetch(per_key), strict=True):
            inverse = per_key[group.join_key][1]
            out[:, group.dst] = values[np.ix_(inverse, group.src)]
            if group.uploaded is not None:
                uploaded = values[inverse, group.uploaded]
        for name, feats in self._odfv:
            computed = request_time_features(uploaded, request_ts_s)
            for f in feats:
                out[:, self._col_index[f"{name}__{f}"]] = computed[f]
        return OnlineFeatures(names=list(self.names), values=out)


def request_time_features(uploaded_at_epoch_s: np.ndarray, request_ts_s: float) -> dict[str, np.ndarray]:
    """feature_repo/request_time.py vectorised: age in hours (−1 when unknown), UTC hour, weekend flag."""
    now = float(request_ts_s)
    n = len(uploaded_at_epoch_s)
    age = np.where(np.isnan(uploaded_at_epoch_s), -1.0, np.maximum(0.0, (now - uploaded_at_epoch_s) / 3600.0))
    hour = float(int(now % SECONDS_PER_DAY) // 3600)
    weekday = (int(now // SECONDS_PER_DAY) + EPOCH_WEEKDAY) % 7
    return {
        "video_age_hours": age,
        "hour_of_day": np.full(n, hour),
        "is_weekend": np.full(n, 1.0 if weekday >= 5 else 0.0),
    }
