"""Eligible videos grouped into time-sorted segments, so "available at time t" is a prefix of each segment.

Video ids are assigned in upload order, so within a segment (a region, a region × topic, or a
region × creator) the videos available at time t are a prefix found by one binary search, and
weighted sampling over that prefix is a binary search in a cumulative sum: all vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worldsim.catalog import Videos
from worldsim.config import DAY_MS, WorldConfig

SEG_SHIFT = 32  # key = segment << 32 | upload second relative to the index origin


@dataclass(frozen=True)
class Segments:
    """Videos concatenated segment by segment, each segment sorted by upload time."""

    video: np.ndarray  # int64 video id per position
    key: np.ndarray  # int64 (segment << 32) | upload second, ascending
    cum: np.ndarray | None  # float64 cumulative weight with a leading 0 (len = positions + 1)

    @classmethod
    def build(
        cls, segment: np.ndarray, video: np.ndarray, upload_rel_s: np.ndarray, weight: np.ndarray | None
    ) -> Segments:
        order = np.lexsort((video, segment))
        seg, vid = segment[order].astype(np.int64), video[order].astype(np.int64)
        key = (seg << SEG_SHIFT) | upload_rel_s[vid]
        cum = None if weight is None else np.concatenate([[0.0], np.cumsum(weight[vid], dtype=np.float64)])
        return cls(video=vid, key=key, cum=cum)

    def first(self, segment: np.ndarray) -> np.ndarray:
        """Position of each segment's first video."""
        return np.searchsorted(self.key, np.asarray(segment, dtype=np.int64) << SEG_SHIFT, side="left")

    def upto(self, segment: np.ndarray, rel_s: np.ndarray) -> np.ndarray:
        """End position (exclusive) of each segment's videos uploaded at or before rel_s."""
        return np.searchsorted(
            self.key, (np.asarray(segment, dtype=np.int64) << SEG_SHIFT) + rel_s, side="right"
        )

    def mass(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Total weight of positions [lo, hi)."""
        assert self.cum is not None
        return self.cum[hi] - self.cum[lo]

    def draw_weighted(self, lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A position in [lo, hi) drawn ∝ weight, from uniforms u."""
        assert self.cum is not None
        target = self.cum[lo] + u * (self.cum[hi] - self.cum[lo])
        return np.clip(np.searchsorted(self.cum, target, side="right") - 1, lo, hi - 1)

    @staticmethod
    def draw_uniform(lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A position in [lo, hi) drawn uniformly, from uniforms u."""
        return lo + np.minimum((u * (hi - lo)).astype(np.int64), hi - lo - 1)


@dataclass(frozen=True)
class CandidateIndex:
    """Unflagged videos allowed in each region, by region, by region × topic and by region × creator."""

    origin_ms: int
    n_topics: int
    n_creators: int
    upload_rel_s: np.ndarray  # int64 per video
    primary_topic: np.ndarray  # int64 per video
    creator: np.ndarray  # int64 per video
    w_trend: np.ndarray  # float64 per video: popularity discounted by age (trending source)
    w_topic: np.ndarray  # float64 per video: popularity with a slower age discount (topic source)
    by_region: Segments  # weights w_trend
    by_topic: Segments  # segment region * K + topic, weights w_topic
    by_creator: Segments  # segment region * C + creator, unweighted

    @classmethod
    def build(
        cls,
        config: WorldConfig,
        n_creators: int,
        videos: Videos,
        trend_half_life_days: float,
        topic_half_life_days: float,
    ) -> CandidateIndex:
        # The origin lies before every upload and every query time, so relative seconds are >= 0.
        origin_ms = config.start_ms - (config.backlog_days + 31) * DAY_MS
        upload_rel = (videos.uploaded_ms - origin_ms) // 1000
        ref = (config.end_ms - origin_ms) // 1000
        age_s = (upload_rel - ref).astype(np.float64)
        log_buzz = videos.log_buzz.astype(np.float64)
        w_trend = np.exp(log_buzz + age_s * np.log(2) / (trend_half_life_days * 86_400))
        w_topic = np.exp(log_buzz + age_s * np.log(2) / (topic_half_life_days * 86_400))
        all_videos = np.arange(len(videos))
        allowed = np.stack(
            [videos.allowed_in(all_videos, np.full(len(videos), r)) for r in range(config.n_regions)], axis=1
        )
        eligible = ~videos.flagged[:, None] & allowed
        vid, reg = np.nonzero(eligible)
        reg = reg.astype(np.int64)
        primary = videos.primary_topic.astype(np.int64)
        creator = videos.creator.astype(np.int64)
        return cls(
            origin_ms=origin_ms,
            n_topics=config.n_topics,
            n_creators=n_creators,
            upload_rel_s=upload_rel,
            primary_topic=primary,
            creator=creator,
            w_trend=w_trend,
            w_topic=w_topic,
            by_region=Segments.build(reg, vid, upload_rel, w_trend),
            by_topic=Segments.build(reg * config.n_topics + primary[vid], vid, upload_rel, w_topic),
            by_creator=Segments.build(reg * n_creators + creator[vid], vid, upload_rel, None),
        )

    def rel_s(self, ms: np.ndarray) -> np.ndarray:
        """Milliseconds since the epoch → whole seconds since the index origin (clamped at 0)."""
        return np.maximum((np.asarray(ms, dtype=np.int64) - self.origin_ms) // 1000, 0)
