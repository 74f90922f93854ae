"""SQL fragments the view modules share: time buckets, window frames, smoothed rates, contribution unions.

Every fragment is built from constants of this package, never from user input; times travel as bind
parameters. Day boundaries are UTC whatever the session time zone: they are binned from the Unix epoch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from pipelines.features.definitions import GRAIN

EPOCH_SQL = "timestamptz '1970-01-01 00:00:00+00'"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def interval(span: timedelta) -> str:
    """A SQL interval literal for a whole number of seconds."""
    seconds = span.total_seconds()
    if seconds != int(seconds) or seconds <= 0:
        raise ValueError(f"intervals here are positive whole seconds, got {span}")
    return f"interval '{int(seconds)} seconds'"


def bucket_end(ts: str, grain: timedelta = GRAIN) -> str:
    """The end T of the bucket (T - grain, T] that holds `ts` (ts itself when it lies on a boundary)."""
    return f"(date_bin({interval(grain)}, {ts} - interval '1 microsecond', {EPOCH_SQL}) + {interval(grain)})"


def day_of_bucket(t: str) -> str:
    """UTC midnight starting the day of a bucket's events (a bucket ending at midnight: the day before)."""
    return f"date_bin(interval '1 day', {t} - interval '1 microsecond', {EPOCH_SQL})"


def day_start(t: str) -> str:
    """The last UTC midnight <= t."""
    return f"date_bin(interval '1 day', {t}, {EPOCH_SQL})"


# Rows of a view's window input carry a `kind`: ACTIVE rows hold a bucket's partial sums, a row of kind i
# (1, 2, …) is the same bucket again at t + W_i, where it leaves window i, and EMIT rows are emission points
# that carry nothing. Running sums over (entity, t) then give every window in a single pass:
#     sum over (T - W_i, T] = Σ ACTIVE rows with t <= T  -  Σ kind-i rows with t <= T.
ACTIVE = 0
EMIT = -1


def running_window(entity: str, order: str = "t") -> str:
    """The cumulative window; the default RANGE frame includes peers, so rows at the same t agree."""
    return f"running AS (PARTITION BY {entity} ORDER BY {order})"


def windowed_sum(x: str, kind: int) -> str:
    """The sum of `x` over window `kind` at each row (see ACTIVE)."""
    return f"sum(CASE kind WHEN {ACTIVE} THEN {x} WHEN {kind} THEN -{x} ELSE 0 END) OVER running"


def running_sum(x: str) -> str:
    """The sum of `x` over every row up to and including t."""
    return f"sum({x}) OVER running"


ROWS_RUNNING = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"


def smoothed_rate(k: str, n: str, prior: float, strength: float) -> str:
    """(min(k, n) + prior * strength) / (n + strength): shrunk towards `prior`, always inside [0, 1]."""
    return f"((LEAST({k}, {n})::float8 + {prior * strength!r}) / ({n}::float8 + {strength!r}))"


def mean_or_default(total: str, count: str, scale: float, default: float) -> str:
    """total / count / scale, or `default` when count is 0."""
    return f"COALESCE({total}::float8 / NULLIF({count}, 0) / {scale!r}, {default!r})"


def watch_fraction_micros(column: str = "watch_fraction") -> str:
    """A watch fraction in whole millionths: integer sums are exact in any order, so batches add up."""
    return f"round({column}::float8 * 1000000)::bigint"


def union_of_contributions(columns: Sequence[str], parts: Sequence[tuple[Mapping[str, str], str]]) -> str:
    """UNION ALL of SELECTs giving every column in `columns`; a part names the values it sets (others are 0).

    Each part is (values, rest): `values` maps column → expression, `rest` is the FROM/WHERE text.
    """
    selects = []
    for values, rest in parts:
        unknown = set(values) - set(columns)
        if unknown:
            raise ValueError(f"unknown contribution column(s) {sorted(unknown)}")
        listed = ", ".join(f"{values.get(c, '0')} AS {c}" for c in columns)
        selects.append(f"SELECT {listed} {rest}")
    return "\n    UNION ALL ".join(selects)


def floor_to(moment: datetime, grain: timedelta) -> datetime:
    """The last multiple of `grain` since the Unix epoch that is <= moment."""
    return moment - (moment - EPOCH) % grain
