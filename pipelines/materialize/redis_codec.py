"""Feast's Redis online-store layout, built with numpy (byte-identical to what stock Feast writes).

Layout (feast.infra.online_stores.redis, entity_key_serialization_version=3):
  key    = serialize_entity_key(EntityKey(join_keys=[k], entity_values=[int64 id])) + project
         = <u32 1><u32 STRING><u32 len(k)><k><u32 INT64><u32 8><i64 id> + project     (all little-endian)
  fields = _mmh3(f"{view}:{feature}") (4 bytes) per feature, and b"_ts:{view}"
  values = ValueProto bytes: double_val is field 5, wire type 1 → b"\\x29" + <f64 LE>;
           stock writes an *empty* ValueProto (b"") for NULL and for NaN;
           _ts is a google.protobuf.Timestamp (seconds, nanos) serialized.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

DOUBLE_TAG = 0x29  # (field 5 << 3) | wire type 1 (fixed64)
DOUBLE_LEN = 9
DOUBLE_TOKEN = 15  # the RESP bulk string of one: `$9` CRLF, 9 bytes, CRLF
VALUE_TYPE_STRING = 2
VALUE_TYPE_INT64 = 4


def entity_key_prefix(join_key: str) -> bytes:
    """Serialized entity key bytes before the int64 value (v3, one join key, INT64 value)."""
    k = join_key.encode()
    return struct.pack("<III", 1, VALUE_TYPE_STRING, len(k)) + k + struct.pack("<II", VALUE_TYPE_INT64, 8)


def redis_keys(join_key: str, project: str, ids: np.ndarray) -> np.ndarray:
    """Redis keys for int64 entity ids as an (n, key_len) uint8 matrix (row i = key of ids[i])."""
    prefix = np.frombuffer(entity_key_prefix(join_key), dtype=np.uint8)
    suffix = np.frombuffer(project.encode(), dtype=np.uint8)
    ids = np.ascontiguousarray(ids, dtype="<i8")
    body = ids.view(np.uint8).reshape(-1, 8)
    n = len(ids)
    return np.hstack(
        [np.broadcast_to(prefix, (n, len(prefix))), body, np.broadcast_to(suffix, (n, len(suffix)))]
    )


def redis_key_list(join_key: str, project: str, ids: Sequence[int] | np.ndarray) -> list[bytes]:
    """Redis keys as a list of bytes."""
    matrix = redis_keys(join_key, project, np.asarray(ids, dtype=np.int64))
    width = matrix.shape[1]
    flat = matrix.tobytes()
    return [flat[i : i + width] for i in range(0, len(flat), width)]


def encode_doubles(values: np.ndarray) -> np.ndarray:
    """(n, f) float64 → (n, f, 9) uint8 ValueProto(double_val=x) bytes (caller handles NaN)."""
    values = np.ascontiguousarray(values, dtype="<f8")
    n, f = values.shape
    out = np.empty((n, f, DOUBLE_LEN), dtype=np.uint8)
    out[:, :, 0] = DOUBLE_TAG
    out[:, :, 1:] = values.view(np.uint8).reshape(n, f, 8)
    return out


def encode_double(value: float | None) -> bytes:
    """One double as stock writes it: empty for None/NaN."""
    if value is None or value != value:
        return b""
    return bytes([DOUBLE_TAG]) + struct.pack("<d", value)


def encode_timestamp(seconds: int, nanos: int) -> bytes:
    """google.protobuf.Timestamp(seconds, nanos).SerializeToString() without the protobuf runtime."""
    out = bytearray()
    if seconds:
        out.append(0x08)
        out += _varint(seconds)
    if nanos:
        out.append(0x10)
        out += _varint(nanos)
    return bytes(out)


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def decode_timestamp_nanos(raw: bytes) -> int:
    """Timestamp bytes → total nanoseconds since the epoch (0 for empty)."""
    seconds = nanos = 0
    i = 0
    while i < len(raw):
        tag = raw[i]
        i += 1
        value = shift = 0
        while True:
            b = raw[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if tag == 0x08:
            seconds = value - (1 << 64) if value >= 1 << 63 else value
        elif tag == 0x10:
            nanos = value
    return seconds * 1_000_000_000 + nanos


def resp_bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


def hset_commands(
    keys: np.ndarray, field_keys: Sequence[bytes], values: np.ndarray, ts_field: bytes, ts_values: list[bytes]
) -> bytes:
    """RESP for `HSET key f1 v1 … fN vN _ts:view ts` per row, as one buffer (stock field order).

    keys: (n, key_len) uint8; values: (n, f) float64 (NaN → empty value, as stock);
    ts_values: n Timestamp bytes.
    Rows without NaN are laid out as fixed-width records with numpy; rows with NaN are built in Python.
    """
    n, f = values.shape
    if n == 0:
        return b""
    key_len = keys.shape[1]
    head = b"*%d\r\n$4\r\nHSET\r\n$%d\r\n" % (2 + 2 * (f + 1), key_len)
    nan_rows = np.isnan(values).any(axis=1)
    ts_arr = np.array(ts_values, dtype=object)
    parts: list[bytes] = []
    clean = np.flatnonzero(~nan_rows)
    if len(clean):
        # Per feature: "\r\n$4\r\n" + field + "\r\n$9\r\n" + 9 value bytes  (first "\r\n" closes the key).
        field_heads = np.stack(
            [np.frombuffer(b"\r\n$4\r\n" + fk + b"\r\n$9\r\n", dtype=np.uint8) for fk in field_keys]
        )  # (f, 15)
        encoded = encode_doubles(values[clean])  # (m, f, 9)
        m = len(clean)
        body = np.concatenate([np.broadcast_to(field_heads, (m, f, field_heads.shape[1])), encoded], axis=2)
        head_arr = np.frombuffer(head, dtype=np.uint8)
        ts_tail: dict[bytes, bytes] = {}  # ts bytes → RESP tail
        tails = [
            ts_tail.get(t) or ts_tail.setdefault(t, b"\r\n" + resp_bulk(ts_field) + resp_bulk(t))
            for t in ts_arr[clean]
        ]
        lengths = np.fromiter((len(t) for t in tails), dtype=np.int64, count=m)
        for length in np.unique(lengths):
            sel = np.flatnonzero(lengths == length)
            tail_mat = np.frombuffer(b"".join(tails[i] for i in sel), dtype=np.uint8).reshape(
                len(sel), length
            )
            rows = np.hstack(
                [
                    np.broadcast_to(head_arr, (len(sel), len(head_arr))),
                    keys[clean[sel]],
                    body[sel].reshape(len(sel), -1),
                    tail_mat,
                ]
            )
            parts.append(rows.tobytes())
    for i in np.flatnonzero(nan_rows):
        row = [head, keys[i].tobytes()]
        for fk, v in zip(field_keys, values[i].tolist(), strict=True):
            row.append(b"\r\n" + resp_bulk(fk) + resp_bulk(encode_double(v))[:-2])
        row.append(b"\r\n" + resp_bulk(ts_field) + resp_bulk(ts_arr[i]))
        parts.append(b"".join(row))
    return b"".join(parts)


def decode_doubles(raw: list[bytes | None], shape: tuple[int, int]) -> np.ndarray:
    """HMGET replies (flattened row-major) → float64 array; missing/empty → NaN, others decoded."""
    n = shape[0] * shape[1]
    out = np.full(n, np.nan)
    if not n:
        return out.reshape(shape)
    lengths = np.fromiter((len(v) if v is not None else 0 for v in raw), dtype=np.int64, count=n)
    if (lengths == DOUBLE_LEN).all():
        buf = np.frombuffer(b"".join(raw), dtype=np.uint8).reshape(n, DOUBLE_LEN)  # type: ignore[arg-type]
        if (buf[:, 0] == DOUBLE_TAG).all():
            return np.ascontiguousarray(buf[:, 1:]).view("<f8").reshape(shape)
    for i in np.flatnonzero(lengths):
        out[i] = decode_value(raw[i])  # type: ignore[arg-type]
    return out.reshape(shape)


def decode_value(raw: bytes) -> float:
    """Generic decode of one ValueProto to float (NaN for empty / non-numeric)."""
    if len(raw) == DOUBLE_LEN and raw[0] == DOUBLE_TAG:
        return struct.unpack("<d", raw[1:])[0]
    from feast.protos.feast.types.Value_pb2 import Value as ValueProto

    proto = ValueProto()
    proto.ParseFromString(raw)
    kind = proto.WhichOneof("val")
    if kind in ("double_val", "float_val", "int64_val", "int32_val"):
        return float(getattr(proto, kind))
    if kind == "bool_val":
        return float(proto.bool_val)
    return float("nan")


def _cell_sizes() -> np.ndarray:
    """Bulk-string token length by the byte after `$`: `$9` a 9-byte value, `$-1` nil, `$0` empty."""
    sizes = np.zeros(256, dtype=np.int64)
    sizes[ord("9")], sizes[ord("-")], sizes[ord("0")] = DOUBLE_TOKEN, 5, 6
    return sizes


CELL_SIZES = _cell_sizes()


def _bytes_at(buf: np.ndarray, pos: np.ndarray, prefix: bytes) -> bool:
    """Whether `prefix` (at most 4 bytes) is at every position: one unaligned little-endian word each."""
    if not len(pos):
        return True
    if len(prefix) > 4 or pos.max() + 4 > len(buf):
        return False
    words = np.ndarray(shape=(len(buf) - 3,), dtype="<u4", buffer=buf, strides=(1,))
    mask = (1 << (8 * len(prefix))) - 1
    return bool(((words[pos] & mask) == int.from_bytes(prefix, "little")).all())


def _token_starts(buf: np.ndarray, n_tokens: int) -> np.ndarray | None:
    """Start of every RESP token: 0, then each `$` or `*` right after a CRLF (None if the count is off).

    A CRLF + `$`/`*` can also occur inside a double's 8 bytes (rarely): such a start lies within 15 bytes
    after the `$9` start before it and is dropped (a short loop over those few starts only). Anything else
    left over makes the count wrong; and every token is checked against the layout afterwards, so a wrong
    drop can only cost the fast path, never a value."""
    tail = buf[2:]
    starts = np.flatnonzero((buf[1:-1] == 10) & (buf[:-2] == 13) & ((tail == ord("$")) | (tail == ord("*"))))
    starts += 2
    positions = np.concatenate([[0], starts])
    if len(positions) == n_tokens:
        return positions
    prev = positions[:-1]
    looks_double = (buf[prev] == ord("$")) & (buf[prev + 1] == ord("9")) & (buf[prev + 2] == 13)
    keep = np.ones(len(positions), dtype=bool)
    for i in (np.flatnonzero(looks_double & (starts - prev < DOUBLE_TOKEN)) + 1).tolist():
        j = i - 1
        while not keep[j]:  # the nearest start still kept: the token this one may lie inside
            j -= 1
        p = int(positions[j])
        if (
            buf[p] == ord("$")
            and buf[p + 1] == ord("9")
            and buf[p + 2] == 13
            and positions[i] - p < DOUBLE_TOKEN
        ):
            keep[i] = False
    positions = positions[keep]
    return positions if len(positions) == n_tokens else None


def parse_hmget_doubles(
    raw: bytes | memoryview, layout: Sequence[tuple[int, int]]
) -> list[np.ndarray] | None:
    """Replies of pipelined HMGETs → one (keys, fields) float64 array per (keys, fields) group in `layout`.

    `raw` must be exactly the replies of sum(keys) HMGETs, grouped as in `layout`. A missing field or an empty
    ValueProto (stock's NULL/NaN) gives NaN. Parsed with numpy over the whole buffer instead of one Python
    object per cell: the tokens start after CRLFs, and each must have the shape the layout puts there
    (`*K` array headers, `$9` 9-byte doubles, `$-1` nils, `$0` empties) and end where the next begins.
    Returns None for anything else (an error reply, a value that is not a 9-byte double, a short buffer):
    the caller then parses the replies generically; the fast path never guesses.
    """
    buf = np.frombuffer(raw, dtype=np.uint8)
    n_tokens = sum(m * (f + 1) for m, f in layout)
    if len(buf) < 4 or not n_tokens or buf[-2] != 13 or buf[-1] != 10:
        return [np.empty((0, f)) for _, f in layout] if not len(buf) and not n_tokens else None
    tokens = _token_starts(buf, n_tokens)
    if tokens is None:
        return None
    # Every token is followed by a CRLF-preceded token (or the buffer's final CRLF), so each token's last
    # two bytes are known to be CRLF once the tokens tile the buffer; only the bytes before need checking.
    sizes = np.empty(n_tokens, dtype=np.int64)
    is_head = np.zeros(n_tokens, dtype=bool)
    start = 0
    for m, f in layout:
        head = b"*%d" % f
        at = slice(start, start + m * (f + 1), f + 1)
        if not _bytes_at(buf, tokens[at], head):
            return None
        is_head[at], sizes[at] = True, len(head) + 2
        start += m * (f + 1)
    cells = tokens[~is_head]
    cell_sizes = CELL_SIZES[buf[cells + 1]]
    sizes[~is_head] = cell_sizes
    if (tokens[1:] != tokens[:-1] + sizes[:-1]).any() or tokens[-1] + sizes[-1] != len(buf):
        return None
    full = np.flatnonzero(cell_sizes == DOUBLE_TOKEN)
    pos = cells[full]
    if not (
        (cell_sizes > 0).all()
        and _bytes_at(buf, pos, b"$9\r\n")
        and (buf[pos + 4] == DOUBLE_TAG).all()
        and _bytes_at(buf, cells[cell_sizes == 5], b"$-1")
        and _bytes_at(buf, cells[cell_sizes == 6], b"$0\r\n")
    ):
        return None
    # every byte offset read as a little-endian double (unaligned, no copy); a value's 8 bytes start at +5
    doubles = np.ndarray(shape=(len(buf) - 7,), dtype="<f8", buffer=buf, strides=(1,))
    values = np.full(len(cells), np.nan)
    values[full] = doubles[pos + 5]
    out, start = [], 0
    for m, f in layout:
        out.append(values[start : start + m * f].reshape(m, f))
        start += m * f
    return out
