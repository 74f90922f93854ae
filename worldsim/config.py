"""The world's knobs: one frozen dataclass, validated on construction, serialisable to JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from foryou.errors import ConfigError

DEFAULT_START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # a Monday, so weekday effects line up

# Region code → UTC offset in whole hours (diurnal activity follows local time) and share of users.
REGIONS: tuple[str, ...] = ("us", "br", "mx", "gb", "de", "in", "id", "jp")
REGION_UTC_OFFSET: tuple[int, ...] = (-5, -3, -6, 0, 1, 5, 7, 9)
REGION_SHARE: tuple[float, ...] = (0.25, 0.12, 0.08, 0.08, 0.08, 0.20, 0.12, 0.07)


@dataclass(frozen=True)
class WorldConfig:
    """Sizes, time span and behaviour constants of a simulated world; same config → same world."""

    seed: int = 0
    n_users: int = 5_000
    n_creators: int = 500
    n_videos: int = 20_000
    days: int = 7
    start: dt.datetime = DEFAULT_START
    n_topics: int = 24
    style_dim: int = 8
    visual_dim: int = 32
    text_dim: int = 32
    audio_dim: int = 16
    page_size: int = 8
    max_pages: int = 25
    sessions_per_user_day: float = 0.19
    backlog_days: int = 30
    backlog_share: float = 0.3
    new_user_share: float = 0.1
    new_creator_share: float = 0.15
    flagged_share: float = 0.015
    restricted_share: float = 0.07
    block_user_share: float = 0.04
    mean_follows: float = 8.0
    regions: tuple[str, ...] = field(default=REGIONS)

    def __post_init__(self) -> None:
        positive = {
            "n_users": ("--users", self.n_users),
            "n_creators": ("--creators", self.n_creators),
            "n_videos": ("--videos", self.n_videos),
            "days": ("--days", self.days),
        }
        for name, (flag, value) in positive.items():
            if value < 1:
                raise ConfigError(
                    f"WorldConfig.{name} must be at least 1 (got {value}); pass {flag} 1 or more."
                )
        if self.seed < 0:
            raise ConfigError(f"WorldConfig.seed must be >= 0 (got {self.seed}); pass --seed 0 or more.")
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ConfigError(
                f"WorldConfig.start must be timezone-aware (got {self.start.isoformat()}); "
                "write it with an offset, e.g. 2026-01-05T00:00Z."
            )
        if self.n_topics < 2 or self.style_dim < 1 or self.page_size < 1 or self.max_pages < 1:
            raise ConfigError("n_topics must be >= 2 and style_dim, page_size, max_pages >= 1.")
        shares = {
            "backlog_share": self.backlog_share,
            "new_user_share": self.new_user_share,
            "new_creator_share": self.new_creator_share,
            "flagged_share": self.flagged_share,
            "restricted_share": self.restricted_share,
            "block_user_share": self.block_user_share,
        }
        for name, share in shares.items():
            if not 0.0 <= share <= 1.0:
                raise ConfigError(f"WorldConfig.{name} is a share and must lie in [0, 1] (got {share}).")
        if self.sessions_per_user_day <= 0 or self.mean_follows < 0 or self.backlog_days < 1:
            raise ConfigError("sessions_per_user_day must be > 0, mean_follows >= 0 and backlog_days >= 1.")
        if len(self.regions) != len(REGIONS) or set(self.regions) != set(REGIONS):
            raise ConfigError(f"regions must be {REGIONS} (the simulator carries per-region constants).")

    @property
    def n_regions(self) -> int:
        return len(self.regions)

    @property
    def start_ms(self) -> int:
        """Start of the simulated window, in milliseconds since the Unix epoch."""
        return int(self.start.astimezone(dt.UTC).timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.days * DAY_MS

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (start as ISO 8601 in UTC)."""
        data = dataclasses.asdict(self)
        data["start"] = self.start.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        data["regions"] = list(self.regions)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorldConfig:
        """The inverse of to_json."""
        values = dict(data)
        values["start"] = dt.datetime.fromisoformat(values["start"])
        values["regions"] = tuple(values["regions"])
        return cls(**values)


DAY_MS = 86_400_000
HOUR_MS = 3_600_000
