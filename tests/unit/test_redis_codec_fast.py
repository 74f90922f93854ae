"""The numpy parse of raw HMGET replies against hiredis + the generic decode, on hand-built RESP buffers."""

from __future__ import annotations

import struct
from itertools import chain

import hiredis
import numpy as np
import pytest
from feast.protos.feast.types.Value_pb2 import Value

from pipelines.materialize import redis_codec as codec
from serving.online_features import _decode

# doubles whose 8 bytes hold CRLF + `$` / `*` (what a token looks like), and two such inside one value
TRICKY = [
    struct.unpack("<d", b"\x00\r\n$9\r\n\x00")[0],
    struct.unpack("<d", b"\r\n*3\r\n\x00\x00")[0],
    struct.unpack("<d", b"\x00\x00\x00\x00\r\n$-")[0],
    struct.unpack("<d", b"\r\n$\r\n$9\x40")[0],
]


def cell(value: object) -> bytes:
    """One HMGET reply element: None → nil, b"" → empty, float → double ValueProto, bytes → as is."""
    if value is None:
        return b"$-1\r\n"
    raw = value if isinstance(value, bytes) else Value(double_val=float(value)).SerializeToString()  # type: ignore[arg-type]
    return codec.resp_bulk(raw)


def replies(rows: list[list[object]]) -> bytes:
    return b"".join(b"*%d\r\n" % len(r) + b"".join(cell(v) for v in r) for r in rows)


def reference(raw: bytes, layout: list[tuple[int, int]]) -> list[np.ndarray]:
    """hiredis + the generic ValueProto decode: what the reader falls back to."""
    reader = hiredis.Reader()
    reader.feed(raw)
    parsed = []
    while (reply := reader.gets()) is not False:
        parsed.append(reply)
    out, pos = [], 0
    for m, f in layout:
        flat = list(chain.from_iterable(parsed[pos : pos + m]))
        out.append(_decode(flat, len(flat)).reshape(m, f))
        pos += m
    assert pos == len(parsed)
    return out


def random_groups(rng: np.random.Generator, layout: list[tuple[int, int]]) -> list[list[list[object]]]:
    special = [0.0, -0.0, 1.0, 5e-324, np.inf, -np.inf, 2.0**53 + 2, *TRICKY[:3]]
    groups = []
    for m, f in layout:
        rows = []
        for _ in range(m):
            kind = rng.random()
            if kind < 0.15:  # entity or view absent: every field nil
                rows.append([None] * f)
                continue
            row: list[object] = []
            for _ in range(f):
                r = rng.random()
                if r < 0.05:
                    row.append(None)
                elif r < 0.08:
                    row.append(b"")
                elif r < 0.2:
                    row.append(special[int(rng.integers(len(special)))])
                else:
                    row.append(float(rng.normal(0, 1e3)))
            rows.append(row)
        groups.append(rows)
    return groups


@pytest.mark.parametrize("seed", range(20))
def test_fast_parse_equals_hiredis_and_generic_decode(seed: int) -> None:
    rng = np.random.default_rng(seed)
    layout = [(1, 61), (int(rng.integers(0, 40)), 22), (int(rng.integers(1, 30)), 9), (3, 100)]
    raw = b"".join(replies(rows) for rows in random_groups(rng, layout))
    got = codec.parse_hmget_doubles(raw, layout)
    assert (
        got is not None
    )  # plain doubles, nils, empties (and one spurious token per value) take the fast path
    for g, want in zip(got, reference(raw, layout), strict=True):
        assert g.shape == want.shape
        np.testing.assert_array_equal(g, want)
        assert (np.signbit(g) == np.signbit(want)).all()  # -0.0 stays -0.0


def test_values_shaped_like_tokens_never_mislead_the_parse() -> None:
    rows = [[v, 1.0, None] for v in TRICKY] + [[TRICKY[3], TRICKY[0], TRICKY[1]]]
    raw = replies(rows)
    got = codec.parse_hmget_doubles(raw, [(len(rows), 3)])
    want = reference(raw, [(len(rows), 3)])[0]
    assert got is None or np.array_equal(got[0], want, equal_nan=True)
    easy = replies([[TRICKY[0], 2.0], [TRICKY[1], None]])
    np.testing.assert_array_equal(
        codec.parse_hmget_doubles(easy, [(2, 2)])[0], [[TRICKY[0], 2.0], [TRICKY[1], np.nan]]
    )


@pytest.mark.parametrize(
    ("raw", "layout"),
    [
        (replies([[1.0, Value(int64_val=7).SerializeToString()]]), [(1, 2)]),  # not a double
        (replies([[1.0, Value(float_val=1.5).SerializeToString()]]), [(1, 2)]),
        (replies([[1.0, b"x" * 9]]), [(1, 2)]),  # 9 bytes but not a double_val tag
        (replies([[1.0, 2.0]]) + b"-ERR wrong\r\n", [(1, 2), (1, 1)]),  # an error reply
        (replies([[1.0, 2.0]])[:-3], [(1, 2)]),  # cut short
        (replies([[1.0, 2.0]]), [(1, 3)]),  # other shape than asked for
        (replies([[1.0, 2.0]]), [(2, 1)]),
        (replies([[1.0, 2.0], [3.0, 4.0]]), [(1, 2)]),  # more replies than asked for
        (b"", [(1, 2)]),
    ],
)
def test_anything_but_plain_doubles_is_left_to_the_generic_parse(raw: bytes, layout: list) -> None:  # type: ignore[type-arg]
    assert codec.parse_hmget_doubles(raw, layout) is None


def test_empty_layouts_and_groups_without_keys() -> None:
    assert [a.shape for a in codec.parse_hmget_doubles(b"", [(0, 3)])] == [(0, 3)]  # type: ignore[union-attr]
    raw = replies([[1.5, None]])
    got = codec.parse_hmget_doubles(raw, [(0, 7), (1, 2), (0, 4)])
    assert got is not None and [a.shape for a in got] == [(0, 7), (1, 2), (0, 4)]
    np.testing.assert_array_equal(got[1], [[1.5, np.nan]])
