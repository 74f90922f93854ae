"""Creators and their videos: power-law fame, arrivals over time, topics, latent quality and traits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worldsim.config import DAY_MS, REGION_SHARE, WorldConfig
from worldsim.sampling import sparse_mixture
from worldsim.seeding import rng_for
from worldsim.timeline import sample_times_in_day
from worldsim.topics import TopicSpace


@dataclass(frozen=True)
class Creators:
    """Per-creator arrays indexed by creator_id (ids are assigned in order of joining)."""

    joined_ms: np.ndarray  # int64
    home_region: np.ndarray  # int8
    fame: np.ndarray  # float32, log-normal: a few creators hold most of the attention
    topics: np.ndarray  # (n, K) float32 sparse topic mixture (1–2 topics)
    quality: np.ndarray  # float32 mean quality of the creator's videos
    style: np.ndarray  # (n, S) float32
    upload_rate: np.ndarray  # float32 relative upload frequency

    def __len__(self) -> int:
        return len(self.joined_ms)


@dataclass(frozen=True)
class Videos:
    """Per-video arrays indexed by video_id (ids are assigned in order of upload)."""

    creator: np.ndarray  # int32
    uploaded_ms: np.ndarray  # int64, whole seconds
    primary_topic: np.ndarray  # int16
    topics: np.ndarray  # (n, K) float32, rows sum to 1
    quality: np.ndarray  # float32
    virality: np.ndarray  # float32 drives shares
    controversy: np.ndarray  # float32 drives comments
    saveability: np.ndarray  # float32 drives saves
    style: np.ndarray  # (n, S) float32
    duration_s: np.ndarray  # float32
    flagged: np.ndarray  # bool
    allowed_mask: np.ndarray  # int32 bit r set = allowed in region r; 0 = everywhere (NULL in the table)
    log_buzz: np.ndarray  # float32 the platform's popularity estimate (logging policy input)

    def __len__(self) -> int:
        return len(self.creator)

    def allowed_in(self, video_ids: np.ndarray, region: np.ndarray) -> np.ndarray:
        """Whether each video may be shown in the matching region (element-wise pairs)."""
        mask = self.allowed_mask[video_ids]
        return (mask == 0) | (((mask >> np.asarray(region, dtype=np.int32)) & 1) == 1)


def make_creators(config: WorldConfig, topics: TopicSpace) -> Creators:
    """Creators: most joined before the window, a share arrives during it."""
    rng = rng_for(config.seed, "creators")
    n = config.n_creators
    is_new = rng.random(n) < config.new_creator_share
    before = config.start_ms - (rng.random(n) * 1_000 * DAY_MS).astype(np.int64)
    during = config.start_ms + (rng.random(n) * config.days * DAY_MS).astype(np.int64)
    joined = np.sort(np.where(is_new, during, before) // 1000 * 1000)
    home = rng.choice(len(REGION_SHARE), size=n, p=np.asarray(REGION_SHARE)).astype(np.int8)
    n_active = np.minimum(1 + (rng.random(n) < 0.35), config.n_topics)
    creator_topics = sparse_mixture(topics.region_prior[home], n_active, rng, concentration=2.0)
    fame = rng.lognormal(0.0, 1.6, size=n).astype(np.float32)
    style = (rng.normal(0.0, 1.0, size=(n, config.style_dim)) / np.sqrt(config.style_dim)).astype(np.float32)
    return Creators(
        joined_ms=joined,
        home_region=home,
        fame=fame,
        topics=creator_topics,
        quality=rng.normal(0.0, 0.6, size=n).astype(np.float32),
        style=style,
        # Famous creators post more, but far less than proportionally.
        upload_rate=(np.sqrt(fame) * rng.lognormal(0.0, 0.5, size=n)).astype(np.float32),
    )


def _upload_times(
    config: WorldConfig, creators: Creators, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Upload time and creator of every video, sorted by time; creators upload only after joining."""
    n = config.n_videos
    backlog = rng.random(n) < config.backlog_share
    span_start = np.where(backlog, config.start_ms - config.backlog_days * DAY_MS, config.start_ms)
    span_days = np.where(backlog, config.backlog_days, config.days)
    draft = span_start + (rng.random(n) * span_days * DAY_MS).astype(np.int64)
    # Creators are sorted by joined_ms, so the eligible creators at time t are a prefix; sample ∝ upload rate.
    eligible = np.maximum(np.searchsorted(creators.joined_ms, draft, side="right"), 1)
    cum = np.concatenate([[0.0], np.cumsum(creators.upload_rate, dtype=np.float64)])
    target = rng.random(n) * cum[eligible]
    creator = np.clip(np.searchsorted(cum, target, side="right") - 1, 0, eligible - 1)
    # Re-time each upload to the creator's local diurnal rhythm within the same UTC day.
    day_start = draft // DAY_MS * DAY_MS
    uploaded = sample_times_in_day(day_start, creators.home_region[creator], rng)
    lower = np.maximum(creators.joined_ms[creator], span_start)
    upper = np.where(backlog, config.start_ms, config.end_ms) - 1000
    uploaded = np.clip(uploaded, lower, np.maximum(upper, lower)) // 1000 * 1000
    order = np.lexsort((creator, uploaded))
    return uploaded[order], creator[order].astype(np.int32)


def make_videos(config: WorldConfig, topics: TopicSpace, creators: Creators) -> Videos:
    """The catalog: a back catalog before the window plus uploads spread over it."""
    rng = rng_for(config.seed, "videos")
    n, k = config.n_videos, config.n_topics
    uploaded, creator = _upload_times(config, creators, rng)
    # Mostly the creator's own topics; sometimes the creator experiments with a popular topic.
    own = creators.topics[creator]
    experiment = rng.random(n) < 0.1
    primary_probs = np.where(experiment[:, None], topics.prior[None, :], own)
    cdf = np.cumsum(primary_probs, axis=1)
    primary = np.minimum((cdf < (rng.random(n) * cdf[:, -1])[:, None]).sum(axis=1), k - 1)
    secondary = rng.choice(k, size=n, p=topics.prior)
    second_weight = np.where((rng.random(n) < 0.4) & (secondary != primary), rng.uniform(0.1, 0.4, n), 0.0)
    video_topics = np.zeros((n, k), dtype=np.float32)
    rows = np.arange(n)
    video_topics[rows, primary] = 1.0 - second_weight
    video_topics[rows, secondary] += second_weight
    quality = (creators.quality[creator] + rng.normal(0.0, 0.6, n)).astype(np.float32)
    virality = rng.normal(0.0, 1.0, n).astype(np.float32)
    controversy = rng.normal(0.0, 1.0, n).astype(np.float32)
    saveability = (topics.saveability[primary] + rng.normal(0.0, 0.5, n)).astype(np.float32)
    style = creators.style[creator] + rng.normal(0.0, 0.5, (n, config.style_dim)) / np.sqrt(config.style_dim)
    duration = np.exp(np.log(18.0) + topics.duration_shift[primary] + rng.normal(0.0, 0.6, n))
    duration = np.round(np.clip(duration, 3.0, 180.0), 1).astype(np.float32)
    # Moderation flags a fixed share, mostly low-quality or controversial videos.
    n_flagged = int(round(config.flagged_share * n))
    flag_score = -quality + 0.5 * controversy + rng.normal(0.0, 0.7, n)
    flagged = np.zeros(n, dtype=bool)
    if n_flagged:
        flagged[np.argsort(-flag_score, kind="stable")[:n_flagged]] = True
    # Licensing/legal restrictions: allowed in the creator's home region plus a few others.
    restricted = rng.random(n) < config.restricted_share
    extra = rng.random((n, config.n_regions)) < 0.3
    bits = (extra.astype(np.int32) << np.arange(config.n_regions, dtype=np.int32)[None, :]).sum(axis=1)
    home_bit = np.left_shift(1, creators.home_region[creator].astype(np.int32))
    allowed_mask = np.where(restricted, bits | home_bit, 0).astype(np.int32)
    log_buzz = np.log(creators.fame[creator]) + 0.5 * quality + 0.3 * virality + rng.normal(0.0, 0.3, n)
    return Videos(
        creator=creator,
        uploaded_ms=uploaded,
        primary_topic=primary.astype(np.int16),
        topics=video_topics,
        quality=quality,
        virality=virality,
        controversy=controversy,
        saveability=saveability,
        style=style.astype(np.float32),
        duration_s=duration,
        flagged=flagged,
        allowed_mask=allowed_mask,
        log_buzz=log_buzz.astype(np.float32),
    )
