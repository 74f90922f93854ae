"""Online feature reads for the re-ranker: every FeatureService feature for one user and ~300 candidates.

Built once per process from the registry: the views of the service, their entity, the Redis hash field keys
(murmur3 of `view:feature`, Feast's layout) and pre-packed RESP fragments. `read` sends ONE pipelined batch of
HMGETs (the user key, each distinct video key with the fields of every video-keyed view, each distinct
creator key), parses the replies with hiredis, decodes doubles with numpy (`np.frombuffer` over the joined
9-byte ValueProtos; a generic ValueProto decode for anything else) and computes the python-mode
`request_time` on-demand view vectorised with the formula of feature_repo/request_time.py.

Semantics follow stock `get_online_features`: missing entity / field / empty ValueProto → NaN (stock: None);
no ttl filtering (stock online reads ignore a view's ttl).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.materialize.redis_codec import DOUBLE_LEN, DOUBLE_TAG, decode_value, redis_keys, resp_bulk

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
    """All views keyed by one join key: one HMGET per entity with their fields concatenated."""

    join_key: str
    columns: list[str]  # full names view__feature, in field order
    fields_resp: bytes  # RESP bulk strings of the field keys
    n_fields: int


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


class _Connection:
    """One Redis connection sending pre-packed RESP and parsing replies with hiredis."""

    def __init__(self, connection_string: str) -> None:
        from feast.infra.online_stores.redis import RedisOnlineStore

        nodes, kwargs = RedisOnlineStore._parse_connection_string(connection_string)
        self.host, self.port = nodes[0]["host"], int(nodes[0]["port"])
        self.db = int(kwargs.get("db", 0) or 0)
        self.password = kwargs.get("password")
        self.sock: socket.socket | None = None

    def _connect(self) -> None:
        import hiredis

        sock = socket.create_connection((self.host, self.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.reader = sock, hiredis.Reader()
        setup = b""
        n = 0
        if self.password:
            setup += b"*2\r\n$4\r\nAUTH\r\n" + resp_bulk(str(self.password).encode())
            n += 1
        if self.db:
            setup += b"*2\r\n$6\r\nSELECT\r\n" + resp_bulk(str(self.db).encode())
            n += 1
        if n:
            self._exchange(setup, n)

    def _exchange(self, payload: bytes, n_replies: int) -> list[Any]:
        assert self.sock is not None
        self.sock.sendall(payload)
        replies: list[Any] = []
        reader = self.reader
        while len(replies) < n_replies:
            reply = reader.gets()
            if reply is False:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("Redis closed the connection")
                reader.feed(chunk)
                continue
            if isinstance(reply, Exception):
                raise reply
            replies.append(reply)
        return replies

    def exchange(self, payload: bytes, n_replies: int) -> list[Any]:
        if self.sock is None:
            self._connect()
        try:
            return self._exchange(payload, n_replies)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


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
        self._groups = {
            jk: _Group(
                join_key=jk,
                columns=[c for c, _ in fields],
                fields_resp=b"".join(b"\r\n" + resp_bulk(k)[:-2] for _, k in fields),
                n_fields=len(fields),
            )
            for jk, fields in group_fields.items()
        }
        self._col_index = {n: j for j, n in enumerate(self.names)}
        self._conn = _Connection(store.config.online_store.connection_string)

    def close(self) -> None:
        self._conn.close()

    def _commands(self, group: _Group, ids: np.ndarray) -> bytes:
        keys = redis_keys(group.join_key, self.project, ids)
        m, key_len = keys.shape
        head = np.frombuffer(b"*%d\r\n$5\r\nHMGET\r\n$%d\r\n" % (2 + group.n_fields, key_len), dtype=np.uint8)
        tail = np.frombuffer(group.fields_resp + b"\r\n", dtype=np.uint8)
        return np.hstack(
            [np.broadcast_to(head, (m, len(head))), keys, np.broadcast_to(tail, (m, len(tail)))]
        ).tobytes()

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
        order = list(self._groups)
        payload = b"".join(self._commands(self._groups[jk], per_key[jk][0]) for jk in order)
        replies = self._conn.exchange(payload, sum(len(per_key[jk][0]) for jk in order))
        out = np.empty((n, len(self.names)))
        pos = 0
        for jk in order:
            group = self._groups[jk]
            uniq, inverse = per_key[jk]
            block = replies[pos : pos + len(uniq)]
            pos += len(uniq)
            flat = list(chain.from_iterable(block))
            values = _decode(flat, len(flat)).reshape(len(uniq), group.n_fields)[inverse]
            for j, col in enumerate(group.columns):
                if col in self._col_index:
                    out[:, self._col_index[col]] = values[:, j]
                if col == self._uploaded_col:
                    uploaded = values[:, j]
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
