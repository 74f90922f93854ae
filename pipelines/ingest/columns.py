"""Vectorised parsers for one column of raw input: typed values out, one problem per bad row recorded.

Input is what a reader produced: strings from CSV (empty cells already missing), native types from Parquet
or from a data set adapter. Every parser accepts both, so all inputs go through the same checks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.ingest.formats import LIST_SEPARATOR, MILLISECONDS_HINT
from pipelines.ingest.problems import Problems, RowOrigin, show

INT64_MAX = np.iinfo(np.int64).max
INT32_MAX = np.iinfo(np.int32).max
# What datetime64[ns] (pandas' unit) can hold, in microseconds since 1970.
NS_MIN_US, NS_MAX_US = pd.Timestamp("1678-01-01").value // 1000, pd.Timestamp("2262-04-10").value // 1000
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")


@dataclass
class RawColumn:
    """One column of a raw frame, with what a problem report needs to point at its rows."""

    name: str
    values: pd.Series
    origin: RowOrigin
    problems: Problems

    def flag(self, bad: np.ndarray | pd.Series, what: str | Callable[[Any], str]) -> None:
        self.problems.rows(self.origin, self.name, _mask(bad), self.values, what)


def _mask(values: np.ndarray | pd.Series) -> np.ndarray:
    if isinstance(values, pd.Series):
        return values.fillna(False).to_numpy(dtype=bool)
    return np.asarray(values, dtype=bool)


def _is_textual(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values.dtype) or values.dtype == object


def _all_missing(values: pd.Series) -> bool:
    return bool(values.isna().all())


def missing_text(index: pd.Index) -> pd.Series:
    """An all-missing text column (what an optional column left out of a file reads as)."""
    nulls = pa.chunked_array([pa.nulls(len(index), pa.string())])
    return pd.Series(pd.arrays.ArrowStringArray(nulls), index=index)


def text(values: pd.Series) -> pd.Series:
    """Values as stripped strings; empty cells and whitespace become missing."""
    if _all_missing(values):
        return missing_text(values.index)
    out = values.astype("string[pyarrow]")
    if _is_textual(values):
        out = out.str.strip()
    return out.mask(out == "")


def ids(col: RawColumn, *, required: bool = True) -> pd.Series:
    """Non-negative 64-bit integer ids (whole numbers; '12.0' is accepted, as spreadsheets write it)."""
    values = col.values
    n = len(values)
    missing = values.isna().to_numpy()
    negative, too_large, not_integer = (np.zeros(n, dtype=bool) for _ in range(3))
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(values.dtype):
        not_integer = ~missing
        parsed = pd.Series(pd.NA, index=values.index, dtype="Int64")
    elif pd.api.types.is_integer_dtype(values.dtype):
        signed = values.astype("Float64") if pd.api.types.is_unsigned_integer_dtype(values.dtype) else values
        negative, too_large = _mask(signed < 0), _mask(signed > INT64_MAX)
        parsed = values.where(~(negative | too_large)).astype("Int64")
    elif pd.api.types.is_float_dtype(values.dtype):
        floats = values.astype("float64")
        not_integer = _mask((floats % 1 != 0) & floats.notna())
        negative = _mask(floats < 0) & ~not_integer
        too_large = _mask(floats >= 2.0**63)
        ok = ~(not_integer | negative | too_large | missing)
        parsed = _int64_where(np.where(ok, floats.fillna(0).to_numpy(), 0).astype(np.int64), ok, values.index)
    else:
        strings = text(values)
        missing = strings.isna().to_numpy()
        fast = _exact_int64(strings)
        if fast is not None:  # the common case: plain integers, checked in C
            negative = _mask(fast < 0)
            parsed = fast.where(~negative)
        else:
            parsed, negative, too_large, not_integer = _ids_from_text(strings, missing)
    col.flag(negative, "ids must be whole numbers ≥ 0, not negative")
    col.flag(too_large, "ids must fit in a signed 64-bit integer")
    col.flag(not_integer, "ids must be whole numbers ≥ 0 (digits only, e.g. 42)")
    if required:
        col.flag(missing, f"the {col.name} column is required: fill in every row")
    return parsed


def _int64_where(values: np.ndarray, ok: np.ndarray, index: pd.Index) -> pd.Series:
    """A nullable Int64 column: `values` where `ok`, missing elsewhere (no trip through float)."""
    return pd.Series(pd.arrays.IntegerArray(values, ~ok), index=index)


def _exact_int64(strings: pd.Series) -> pd.Series | None:
    """Int64 values if every present string is exactly an int64 in canonical form (else None)."""
    arrow = pa.array(strings.array)
    try:
        ints = arrow.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    # The round trip rejects what Arrow accepts but an id should not look like ('0x10', '007').
    if pc.all(pc.equal(ints.cast(pa.string()), arrow)).as_py() is False:
        return None
    return pd.Series(ints.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get), index=strings.index)


def _ids_from_text(
    strings: pd.Series, missing: np.ndarray
) -> tuple[pd.Series, np.ndarray, np.ndarray, np.ndarray]:
    """The careful path for text ids: parsed, and the negative, too large and non-integer rows apart."""
    digits = _mask(strings.str.fullmatch(r"\d+(\.0*)?"))
    negative = _mask(strings.str.fullmatch(r"-\d+(\.0*)?"))
    whole = strings.where(digits).str.replace(r"\.0*$", "", regex=True).str.lstrip("0").replace("", "0")
    too_large = _mask(whole.str.len() > 19)
    candidates = digits & ~too_large
    as_unsigned = whole.where(candidates, "0").fillna("0").astype("uint64")
    too_large |= candidates & (as_unsigned.to_numpy() > INT64_MAX)
    ok = candidates & ~too_large
    parsed = _int64_where(as_unsigned.to_numpy().astype(np.int64), ok, strings.index)
    return parsed, negative, too_large, ~(digits | negative | missing)


NAT = np.iinfo(np.int64).min  # numpy's NaT as an int64


def _iso_micros(strings: pd.Series) -> np.ndarray:
    """ISO-8601 text → UTC microseconds since 1970 (NAT where unparsable).

    Arrow's C parser (10× faster than pandas, and not limited to pandas' years 1678–2262) on the texts
    with and without a zone separately; pandas for a group Arrow refuses (date-only or compact forms).
    """
    out = np.full(len(strings), NAT, dtype=np.int64)
    zoned = _mask(strings.str.contains(r"(?:Z|[+-]\d\d(?::?\d\d)?)$", regex=True))
    for rows, target in ((zoned, pa.timestamp("us", "UTC")), (~zoned, pa.timestamp("us"))):
        if not rows.any():
            continue
        group = strings[rows]
        try:
            out[rows] = pa.array(group.array).cast(target).cast(pa.int64()).fill_null(NAT).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out[rows] = _pandas_iso_micros(group, target)
    return out


def _pandas_iso_micros(group: pd.Series, target: pa.DataType) -> np.ndarray:
    fallback = pd.to_datetime(group, format="ISO8601", utc=True, errors="coerce")
    nanos = fallback.dt.tz_localize(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
    micros = np.where(fallback.isna().to_numpy(), NAT, nanos // 1000)
    # What pandas refuses may still be a valid ISO text outside its years (3000-01-01): ask Arrow one by one.
    for position in np.flatnonzero(micros == NAT)[:10_000]:
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError):
            micros[position] = pa.array([group.iloc[position]]).cast(target).cast(pa.int64())[0].as_py()
    return micros


def _datetime_micros(values: pd.Series) -> np.ndarray:
    """A datetime column (naive = UTC) → UTC microseconds since 1970 (NAT where missing)."""
    utc = values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
    micros = utc.dt.tz_localize(None).to_numpy().astype("datetime64[us]").astype(np.int64)
    return np.where(values.isna().to_numpy(), NAT, micros)


def _seconds_micros(seconds: np.ndarray, usable: np.ndarray) -> np.ndarray:
    out = np.full(len(seconds), NAT, dtype=np.int64)
    out[usable] = np.round(seconds[usable] * 1e6).astype(np.int64)
    return out


def timestamps(col: RawColumn, *, now: datetime, tolerance: pd.Timedelta, required: bool = True) -> pd.Series:
    """UTC timestamps from ISO-8601 text (no offset = UTC) or unix seconds, none after now + tolerance."""
    values = col.values
    n = len(values)
    milliseconds = np.zeros(n, dtype=bool)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        missing = values.isna().to_numpy()
        micros = _datetime_micros(values)
    elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        seconds = values.astype("float64").to_numpy()
        missing = np.isnan(seconds)
        milliseconds = ~missing & (np.abs(np.nan_to_num(seconds)) >= MILLISECONDS_HINT)
        micros = _seconds_micros(seconds, ~missing & ~milliseconds & np.isfinite(seconds))
    else:
        strings = text(values)
        missing = strings.isna().to_numpy()
        numeric = _mask(strings.str.fullmatch(r"-?\d+(\.\d*)?"))
        seconds = np.full(n, np.nan)
        if numeric.any():
            seconds[numeric] = pd.to_numeric(strings[numeric]).astype("float64").to_numpy()
        milliseconds = numeric & (np.abs(np.nan_to_num(seconds)) >= MILLISECONDS_HINT)
        micros = _seconds_micros(seconds, numeric & ~milliseconds)
        iso_rows = ~numeric & ~missing
        if iso_rows.any():
            micros[iso_rows] = _iso_micros(strings[iso_rows])
    parsed = micros != NAT
    limit = int(pd.Timestamp(now).value // 1000 + tolerance.value // 1000)
    future = parsed & (micros > limit)
    out_of_range = parsed & ~future & ((micros < NS_MIN_US) | (micros > NS_MAX_US))
    unparsable = ~parsed & ~missing & ~milliseconds
    col.flag(
        milliseconds,
        "this unix time looks like milliseconds; write unix seconds (divide by 1000) or ISO-8601",
    )
    col.flag(
        unparsable,
        "not a timestamp; write ISO-8601 (2024-05-01T12:00:00Z; no offset means UTC) or unix seconds",
    )
    col.flag(out_of_range, "timestamps must lie between the years 1678 and 2262")
    col.flag(
        future,
        lambda v: (
            f"got {show(v)}, which is in the future (after {pd.Timestamp(now):%Y-%m-%d %H:%M} UTC); "
            "fix the clock or the time unit of the writer"
        ),
    )
    if required:
        col.flag(missing, f"the {col.name} column is required: fill in every row")
    usable = np.where(parsed & ~future & ~out_of_range, micros, NAT)
    stamps = pd.Series(usable.astype("datetime64[us]").astype("datetime64[ns]"), index=values.index)
    return stamps.dt.tz_localize("UTC")


def numbers(
    col: RawColumn,
    *,
    integer: bool,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    what: str,
) -> pd.Series:
    """Optional numeric values (missing stays missing) within [minimum, maximum]; integers if `integer`."""
    values = col.values
    if _all_missing(values):
        return pd.Series(
            pd.NA if integer else np.nan, index=values.index, dtype="Int64" if integer else "float64"
        )
    if pd.api.types.is_bool_dtype(values.dtype):
        parsed = pd.Series(np.nan, index=values.index)
        not_number = values.notna().to_numpy()
    elif pd.api.types.is_numeric_dtype(values.dtype):
        parsed = values.astype("float64")
        not_number = np.zeros(len(values), bool)
    else:
        strings = text(values)
        try:
            parsed = pd.Series(pa.array(strings.array).cast(pa.float64()).to_pandas(), index=strings.index)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            parsed = pd.to_numeric(strings, errors="coerce").astype("float64")
        not_number = (parsed.isna() & strings.notna()).to_numpy()
    bad = not_number | _mask(~np.isfinite(parsed) & parsed.notna())
    if integer:
        bad |= _mask((parsed % 1 != 0) & parsed.notna())
    if minimum is not None:
        bad |= _mask(parsed <= minimum) if exclusive_minimum else _mask(parsed < minimum)
    if maximum is not None:
        bad |= _mask(parsed > maximum)
    col.flag(bad, what)
    parsed = parsed.mask(bad)
    return parsed.round().astype("Int64") if integer else parsed


def booleans(col: RawColumn, *, default: bool) -> pd.Series:
    """true/false, yes/no, 1/0 (any case); missing → `default`."""
    values = col.values
    if _all_missing(values):
        return pd.Series(default, index=values.index, dtype=bool)
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.fillna(default).astype(bool)
    words = text(values).str.lower()
    true = _mask(words.isin(TRUE_WORDS))
    false = _mask(words.isin(FALSE_WORDS))
    missing = words.isna().to_numpy()
    col.flag(~(true | false | missing), "write true or false (or 1/0, yes/no)")
    return pd.Series(np.where(true, True, np.where(false, False, default)), index=values.index, dtype=bool)


def choices(col: RawColumn, allowed: Sequence[str]) -> pd.Series:
    """Optional text that must be one of `allowed` (exact, lowercase)."""
    words = text(col.values)
    bad = _mask(~words.isin(allowed) & words.notna())
    col.flag(bad, f"must be one of {', '.join(allowed)}, or empty")
    return words


def lists(col: RawColumn) -> pd.Series:
    """'a|b|c' → ['a', 'b', 'c'] (blank items dropped); missing → missing. Lists from Parquet pass through."""
    values = col.values
    if _all_missing(values):
        return pd.Series(None, index=values.index, dtype=object)
    if values.dtype == object and values.map(lambda v: isinstance(v, list | np.ndarray | tuple)).any():
        return values.map(lambda v: [str(x).strip() for x in v if str(x).strip()] if v is not None else None)
    strings = text(values)
    split = strings.str.split(LIST_SEPARATOR, regex=False)
    return split.map(
        lambda items: [s.strip() for s in items if s.strip()] if isinstance(items, list) else None
    )
