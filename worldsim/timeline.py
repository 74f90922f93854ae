"""Clock helpers: local-time diurnal activity and weekday effects, in integer milliseconds (UTC)."""

from __future__ import annotations

import numpy as np

from worldsim.config import DAY_MS, HOUR_MS, REGION_UTC_OFFSET

# Relative activity per local hour 0..23: quiet at night, a lunch bump, peak in the evening.
DIURNAL = np.array(
    [
        0.55,
        0.35,
        0.22,
        0.15,
        0.13,
        0.18,
        0.35,
        0.6,
        0.75,
        0.75,
        0.72,
        0.8,
        1.0,
        0.95,
        0.85,
        0.85,
        0.95,
        1.1,
        1.35,
        1.6,
        1.85,
        1.9,
        1.6,
        1.05,
    ]
)
# Monday..Sunday: weekends bring more sessions.
WEEKDAY_FACTOR = np.array([0.95, 0.93, 0.95, 0.97, 1.05, 1.15, 1.12])


def utc_hour_cdf() -> np.ndarray:
    """(n_regions, 24) cumulative distribution of the UTC hour of activity for each region."""
    offsets = np.asarray(REGION_UTC_OFFSET)
    weights = DIURNAL[(np.arange(24)[None, :] + offsets[:, None]) % 24]
    cdf = np.cumsum(weights, axis=1)
    return cdf / cdf[:, -1:]


def sample_times_in_day(
    day_start_ms: np.ndarray | int, region: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One timestamp (ms) per row inside the UTC day starting at day_start_ms, diurnal in local time."""
    cdf = utc_hour_cdf()
    n = len(region)
    hour = (cdf[region] < rng.random(n)[:, None]).sum(axis=1)
    within = (rng.random(n) * HOUR_MS).astype(np.int64)
    return np.asarray(day_start_ms, dtype=np.int64) + hour.astype(np.int64) * HOUR_MS + within


def weekday_factor(day_start_ms: int) -> float:
    """Activity multiplier of the UTC day that starts at day_start_ms."""
    weekday = (day_start_ms // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday (index 3 from Monday)
    return float(WEEKDAY_FACTOR[weekday])
