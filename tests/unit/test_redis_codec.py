"""Our Redis codec against Feast's own encoders: keys, values (incl. NULL/NaN), timestamps, RESP, decoding."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import _mmh3
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from feast.utils import _columns_to_proto_values
from feast.value_type import ValueType
from google.protobuf.timestamp_pb2 import Timestamp

from pipelines.materialize import redis_codec as codec
from serving.online_features import _decode, request_time_features

SPECIAL = [0.0, -0.0, 1.0, -1.5, 1e-300, 5e-324, 1.7976931348623157e308, math.inf, -math.inf, 2.0**53 + 2]


def stock_value_bytes(values: Sequence[float | None]) -> list[bytes]:
    """What stock materialize serializes for a Float64 column (arrow → ValueProto)."""
    batch = pa.record_batch({"x": pa.array(values, type=pa.float64())})
    return [
        v.SerializeToString() for v in _columns_to_proto_values(batch, [("x", ValueType.DOUBLE)], False)["x"]
    ]


def test_doubles_are_byte_identical_to_valueproto() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([SPECIAL, rng.normal(0, 1e6, 500)]).reshape(-1, 10)
    encoded = codec.encode_doubles(values)
    for i, j in np.ndindex(values.shape):
        assert encoded[i, j].tobytes() == Value(double_val=float(values[i, j])).SerializeToString()
    assert [codec.encode_double(v) for v in SPECIAL] == stock_value_bytes(SPECIAL)
    assert encoded[0, 0, 0] == 0x29  # double_val is field 5 (wire type 1), not 6


def test_null_and_nan_are_written_as_stock_writes_them() -> None:
    assert stock_value_bytes([None, math.nan]) == [b"", b""]
    assert codec.encode_double(None) == b"" and codec.encode_double(math.nan) == b""


@pytest.mark.parametrize("join_key", ["user_id", "video_id", "creator_id"])
def test_entity_keys_match_serialize_entity_key(join_key: str) -> None:
    ids = [0, 1, -1, 2**63 - 1, -(2**63), 123456789012]
    want = [
        serialize_entity_key(
            EntityKey(join_keys=[join_key], entity_values=[Value(int64_val=i)]),
            entity_key_serialization_version=3,
        )
        + b"foryou"
        for i in ids
    ]
    assert codec.redis_key_list(join_key, "foryou", ids) == want


def test_timestamps_match_protobuf_and_round_trip() -> None:
    for seconds, nanos in [(0, 0), (1_767_225_600, 0), (1_767_225_600, 123_000), (1, 999_999_000), (-5, 0)]:
        raw = Timestamp(seconds=seconds, nanos=nanos).SerializeToString()
        assert codec.encode_timestamp(seconds, nanos) == raw
        assert codec.decode_timestamp_nanos(raw) == seconds * 1_000_000_000 + nanos


def parse_resp_commands(buf: bytes) -> list[list[bytes]]:
    out, i = [], 0
    while i < len(buf):
        assert buf[i : i + 1] == b"*"
        end = buf.index(b"\r\n", i)
        n, i = int(buf[i + 1 : end]), end + 2
        args = []
        for _ in range(n):
            assert buf[i : i + 1] == b"$"
            end = buf.index(b"\r\n", i)
            length, i = int(buf[i + 1 : end]), end + 2
            args.append(buf[i : i + length])
            assert buf[i + length : i + length + 2] == b"\r\n"
            i += length + 2
        out.append(args)
    return out


def test_hset_commands_carry_stock_fields_and_values_including_nan_rows() -> None:
    feats = ["a", "b", "c"]
    fields = [_mmh3(f"v:{f}") for f in feats]
    ids = np.array([5, 6, 7, 8])
    values = np.array([[1.0, 2.0, 3.0], [np.nan, 0.0, -1.0], [4.0, 5.0, 6.0], [np.nan] * 3])
    ts = [codec.encode_timestamp(1_767_225_600 + i, 1000 * (i % 2)) for i in range(4)]
    cmds = parse_resp_commands(
        codec.hset_commands(codec.redis_keys("video_id", "p", ids), fields, values, b"_ts:v", ts)
    )
    keys = codec.redis_key_list("video_id", "p", ids)
    got = {c[1]: c for c in cmds}
    assert len(cmds) == 4 and set(got) == set(keys)
    for row, key in enumerate(keys):
        cmd = got[key]
        assert cmd[0] == b"HSET"
        mapping = dict(zip(cmd[2::2], cmd[3::2], strict=True))
        want = dict(
            zip(fields, stock_value_bytes([None if math.isnan(v) else v for v in values[row]]), strict=True)
        )
        want[b"_ts:v"] = ts[row]
        assert mapping == want


def test_decode_handles_doubles_missing_empty_and_other_types() -> None:
    raw = [
        Value(double_val=2.5).SerializeToString(),
        None,
        b"",
        Value(int64_val=7).SerializeToString(),
        Value(double_val=-0.0).SerializeToString(),
        Value(float_val=1.5).SerializeToString(),
        Value(string_val="x").SerializeToString(),
    ]
    got = _decode(raw, len(raw))
    np.testing.assert_array_equal(got, [2.5, np.nan, np.nan, 7.0, -0.0, 1.5, np.nan])
    assert math.copysign(1, got[4]) == -1
    allnine = [Value(double_val=x).SerializeToString() for x in SPECIAL]
    np.testing.assert_array_equal(_decode(allnine, len(allnine)), SPECIAL)
    np.testing.assert_array_equal(codec.decode_doubles(allnine, (2, 5)), np.reshape(SPECIAL, (2, 5)))


def test_request_time_matches_the_repo_udf() -> None:
    from foryou.feast_repo import FEATURE_REPO, _inside_repo

    with _inside_repo(FEATURE_REPO):
        import request_time as repo_module

        udf = repo_module.request_time.feature_transformation.udf
    uploaded = [1_767_000_000.0, None, 1_767_225_600.0 + 10, 0.0]
    for now in [1_767_225_600.0, 1_767_225_600.0 + 86_400 * 2 + 3_599.9, 1_767_571_199.0, 1_700_000_000.5]:
        frame = pd.DataFrame({"uploaded_at_epoch_s": uploaded, "request_ts_s": [now] * len(uploaded)})
        stock = udf(frame.astype("float64"))
        ours = request_time_features(np.array([np.nan if u is None else u for u in uploaded]), now)
        for name in ("video_age_hours", "hour_of_day", "is_weekend"):
            np.testing.assert_array_equal(ours[name], np.array(stock[name], dtype=float), err_msg=name)


def test_struct_layout_assumption() -> None:
    assert (
        codec.entity_key_prefix("user_id") + struct.pack("<q", 3) + b"foryou"
        == codec.redis_key_list("user_id", "foryou", [3])[0]
    )
