"""The logging policy: a mixture of four sources, sampled slot by slot without repeats, exact propensities.

Each slot picks a source (trending, topic match, follow graph, uniform exploration) with fixed
weights renormalised over the sources that still have unseen candidates, then a video from that
source restricted to eligible, unseen, unblocked videos available when the session started:

    trending  ∝ exp(log_buzz − age / τ_trend)            (softmax over popularity and recency)
    topic     topic ~ q(session), then ∝ exp(log_buzz − age / τ_topic) within the topic
    follow    uniform over followed creators' uploads of the last `follow_window_days`
    explore   uniform over everything eligible

The logged propensity of the shown video is the probability of this mixture choosing it for the
slot, given what the session has already shown: Σ_s w'_s · P_s(v) / (1 − P_s(excluded)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from worldsim.candidate_index import CandidateIndex, Segments
from worldsim.graph import contains
from worldsim.sampling import ragged_ranges

SOURCES: tuple[str, ...] = ("trending", "topic", "follow", "explore")


@dataclass(frozen=True)
class PolicyParams:
    """Source weights and time constants of the logging policy (saved with the world)."""

    source_weights: tuple[float, ...] = (0.35, 0.35, 0.2, 0.1)
    trend_half_life_days: float = 1.5
    topic_half_life_days: float = 10.0
    follow_window_days: float = 7.0
    profile_share: float = 0.6  # topic preference: profile vs topics watched in the session
    max_rejections: int = 30

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PolicyParams:
        values = dict(data)
        values["source_weights"] = tuple(values["source_weights"])
        return cls(**values)


@dataclass
class SessionSlates:
    """Per-session policy state: the candidate prefixes frozen at session start and what is excluded."""

    user: np.ndarray  # int64
    creator_key_base: np.ndarray  # int64 user * n_creators, for pair-key lookups
    t0_rel_s: np.ndarray  # int64 session start, index-relative seconds
    region_lo: np.ndarray
    region_hi: np.ndarray
    topic_lo: np.ndarray  # (n, K)
    topic_hi: np.ndarray  # (n, K)
    profile: np.ndarray  # (n, K) the platform's estimated long-term interests of the user
    watched: np.ndarray  # (n, K) topics the session watched (decayed), as the platform sees them
    pair_cum: np.ndarray  # follow pairs: cumulative counts with leading 0 (global over sessions)
    pair_lo: np.ndarray  # first by_creator position of each follow pair's window
    sess_pair: np.ndarray  # (n + 1,) range of each session's pairs in pair arrays
    follow_keys: np.ndarray  # sorted user*C+creator follows known at the day's start
    block_keys: np.ndarray  # sorted user*C+creator blocks in force
    follow_from_s: np.ndarray  # (n,) follow window lower bound (exclusive), relative seconds
    seen: np.ndarray  # (n, max_items) int64, -1 padded
    n_seen: np.ndarray
    excl_count: np.ndarray  # excluded eligible videos (seen + blocked)
    excl_trend: np.ndarray  # excluded trending weight
    excl_topic_w: np.ndarray  # (n, K) excluded topic weight
    excl_topic_n: np.ndarray  # (n, K) excluded topic count
    excl_follow: np.ndarray  # excluded follow-source count

    @property
    def remaining(self) -> np.ndarray:
        """Eligible, unexcluded videos left per session."""
        return self.region_hi - self.region_lo - self.excl_count

    @property
    def follow_total(self) -> np.ndarray:
        return self.pair_cum[self.sess_pair[1:]] - self.pair_cum[self.sess_pair[:-1]]


class LoggingPolicy:
    """Samples slots for many sessions at once and returns each shown video's propensity."""

    def __init__(self, index: CandidateIndex, params: PolicyParams | None = None) -> None:
        self.index = index
        self.params = params or PolicyParams()
        self.weights = np.asarray(self.params.source_weights, dtype=np.float64)

    # ---- session start ----------------------------------------------------------------------------
    def start_sessions(
        self,
        user: np.ndarray,
        region: np.ndarray,
        t0_ms: np.ndarray,
        profile: np.ndarray,
        follow_keys: np.ndarray,
        block_keys: np.ndarray,
        max_items: int,
    ) -> SessionSlates:
        """Freeze each session's candidate prefixes at its start and exclude blocked creators' videos."""
        ix, k, n_c = self.index, self.index.n_topics, self.index.n_creators
        n = len(user)
        user = np.asarray(user, dtype=np.int64)
        region = np.asarray(region, dtype=np.int64)
        t0 = ix.rel_s(t0_ms)
        region_lo = ix.by_region.first(region)
        region_hi = ix.by_region.upto(region, t0)
        topic_seg = region[:, None] * k + np.arange(k)[None, :]
        topic_lo = ix.by_topic.first(topic_seg)
        topic_hi = ix.by_topic.upto(topic_seg, np.repeat(t0[:, None], k, axis=1))
        follow_from = t0 - int(self.params.follow_window_days * 86_400)

        # Follow pairs: each (session, followed creator) with its window of recent uploads.
        f_user, f_creator = follow_keys // n_c, follow_keys % n_c
        first = np.searchsorted(f_user, user, side="left")
        last = np.searchsorted(f_user, user, side="right")
        p_sess, p_pos = ragged_ranges(first, last)
        seg = region[p_sess] * n_c + f_creator[p_pos]
        lo = ix.by_creator.upto(seg, follow_from[p_sess])
        hi = ix.by_creator.upto(seg, t0[p_sess])
        keep = hi > lo
        p_sess, lo, hi = p_sess[keep], lo[keep], hi[keep]
        pair_cum = np.concatenate([[0], np.cumsum(hi - lo)])
        sess_pair = np.searchsorted(p_sess, np.arange(n + 1), side="left")

        slates = SessionSlates(
            user=user,
            creator_key_base=user * n_c,
            t0_rel_s=t0,
            region_lo=region_lo,
            region_hi=region_hi,
            topic_lo=topic_lo,
            topic_hi=topic_hi,
            profile=np.asarray(profile, dtype=np.float64),
            watched=np.zeros((n, k)),
            pair_cum=pair_cum,
            pair_lo=lo,
            sess_pair=sess_pair,
            follow_keys=follow_keys,
            block_keys=block_keys,
            follow_from_s=follow_from,
            seen=np.full((n, max_items), -1, dtype=np.int64),
            n_seen=np.zeros(n, dtype=np.int64),
            excl_count=np.zeros(n, dtype=np.int64),
            excl_trend=np.zeros(n),
            excl_topic_w=np.zeros((n, k)),
            excl_topic_n=np.zeros((n, k), dtype=np.int64),
            excl_follow=np.zeros(n, dtype=np.int64),
        )
        self._exclude_blocked(slates, region, block_keys)
        return slates

    def _exclude_blocked(self, s: SessionSlates, region: np.ndarray, block_keys: np.ndarray) -> None:
        """Blocked creators' available videos leave every source's support (and its normaliser)."""
        ix, n_c = self.index, self.index.n_creators
        b_user = block_keys // n_c
        first = np.searchsorted(b_user, s.user, side="left")
        last = np.searchsorted(b_user, s.user, side="right")
        b_sess, b_pos = ragged_ranges(first, last)
        if len(b_sess) == 0:
            return
        seg = region[b_sess] * n_c + block_keys[b_pos] % n_c
        rows, pos = ragged_ranges(ix.by_creator.first(seg), ix.by_creator.upto(seg, s.t0_rel_s[b_sess]))
        sess, video = b_sess[rows], ix.by_creator.video[pos]
        np.add.at(s.excl_count, sess, 1)
        np.add.at(s.excl_trend, sess, ix.w_trend[video])
        np.add.at(s.excl_topic_w, (sess, ix.primary_topic[video]), ix.w_topic[video])
        np.add.at(s.excl_topic_n, (sess, ix.primary_topic[video]), 1)

    # ---- one slot ---------------------------------------------------------------------------------------
    def topic_preference(self, s: SessionSlates, rows: np.ndarray) -> np.ndarray:
        """q(session): the topic source's distribution, zero on exhausted topics."""
        watched = s.watched[rows]
        total = watched.sum(axis=1, keepdims=True)
        share = np.where(total > 0, self.params.profile_share, 1.0)
        q = share * s.profile[rows] + (1 - share) * watched / np.maximum(total, 1e-12)
        open_topics = (s.topic_hi[rows] - s.topic_lo[rows] - s.excl_topic_n[rows]) > 0
        return q * open_topics

    def source_weights(self, s: SessionSlates, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        """(n, 4) mixture weights renormalised over sources that still have candidates."""
        has_any = s.remaining[rows] > 0
        ok = np.stack(
            [has_any, q.sum(axis=1) > 0, (s.follow_total[rows] - s.excl_follow[rows]) > 0, has_any], axis=1
        )
        w = self.weights[None, :] * ok
        return w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)

    def is_excluded(self, s: SessionSlates, rows: np.ndarray, video: np.ndarray) -> np.ndarray:
        """Already shown in the session, or by a creator the user blocked."""
        width = int(s.n_seen[rows].max(initial=0))
        seen = (s.seen[rows, :width] == video[:, None]).any(axis=1)
        blocked = contains(s.block_keys, s.creator_key_base[rows] + self.index.creator[video])
        return seen | blocked

    def _draw(
        self, s: SessionSlates, rows: np.ndarray, source: int, topic: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """One candidate per row from one source (may be excluded; the caller rejects and redraws)."""
        ix, u = self.index, rng.random(len(rows))
        if source == 0:
            return ix.by_region.video[ix.by_region.draw_weighted(s.region_lo[rows], s.region_hi[rows], u)]
        if source == 1:
            lo, hi = s.topic_lo[rows, topic], s.topic_hi[rows, topic]
            return ix.by_topic.video[ix.by_topic.draw_weighted(lo, hi, u)]
        if source == 2:
            start = s.pair_cum[s.sess_pair[rows]]
            offset = (u * s.follow_total[rows]).astype(np.int64)
            pair = np.searchsorted(s.pair_cum, start + offset, side="right") - 1
            return ix.by_creator.video[s.pair_lo[pair] + start + offset - s.pair_cum[pair]]
        return ix.by_region.video[Segments.draw_uniform(s.region_lo[rows], s.region_hi[rows], u)]

    def _support(self, s: SessionSlates, row: int, source: int, topic: int) -> tuple[np.ndarray, np.ndarray]:
        """All of one session's candidates for a source with their weights (the rare exact fallback)."""
        ix = self.index
        if source in (0, 3):
            video = ix.by_region.video[s.region_lo[row] : s.region_hi[row]]
            return video, (ix.w_trend[video] if source == 0 else np.ones(len(video)))
        if source == 1:
            video = ix.by_topic.video[s.topic_lo[row, topic] : s.topic_hi[row, topic]]
            return video, ix.w_topic[video]
        pairs = np.arange(s.sess_pair[row], s.sess_pair[row + 1])
        _, pos = ragged_ranges(s.pair_lo[pairs], s.pair_lo[pairs] + np.diff(s.pair_cum)[pairs])
        video = ix.by_creator.video[pos]
        return video, np.ones(len(video))

    def _draw_unexcluded(
        self, s: SessionSlates, rows: np.ndarray, source: int, topic: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Rejection sampling (exactly the source restricted to unexcluded videos), exact fallback if slow."""
        video = self._draw(s, rows, source, topic, rng)
        pending = np.flatnonzero(self.is_excluded(s, rows, video))
        for _ in range(self.params.max_rejections):
            if len(pending) == 0:
                return video
            video[pending] = self._draw(s, rows[pending], source, topic[pending], rng)
            pending = pending[self.is_excluded(s, rows[pending], video[pending])]
        for i in pending.tolist():
            candidates, weights = self._support(s, int(rows[i]), source, int(topic[i]))
            weights = weights * ~self.is_excluded(s, np.full(len(candidates), rows[i]), candidates)
            video[i] = candidates[
                np.searchsorted(np.cumsum(weights), rng.random() * weights.sum(), side="right")
            ]
        return video

    def propensity(self, s: SessionSlates, rows: np.ndarray, video: np.ndarray) -> np.ndarray:
        """P(policy shows `video` in this slot | the session so far), for unexcluded, eligible videos."""
        ix = self.index
        q = self.topic_preference(s, rows)
        w = self.source_weights(s, rows, q)
        topic = ix.primary_topic[video]
        n_left = s.remaining[rows]
        trend_left = np.maximum(
            ix.by_region.mass(s.region_lo[rows], s.region_hi[rows]) - s.excl_trend[rows], ix.w_trend[video]
        )
        p_trend = ix.w_trend[video] / trend_left
        topic_total = ix.by_topic.mass(s.topic_lo[rows, topic], s.topic_hi[rows, topic])
        topic_left = np.maximum(topic_total - s.excl_topic_w[rows, topic], ix.w_topic[video])
        q_norm = q[np.arange(len(rows)), topic] / np.maximum(q.sum(axis=1), 1e-300)
        p_topic = q_norm * ix.w_topic[video] / topic_left
        in_follow = self.in_follow_support(s, rows, video)
        follow_left = np.maximum(s.follow_total[rows] - s.excl_follow[rows], 1)
        p_follow = in_follow / follow_left
        p_explore = 1.0 / np.maximum(n_left, 1)
        p = w[:, 0] * p_trend + w[:, 1] * p_topic + w[:, 2] * p_follow + w[:, 3] * p_explore
        return np.clip(p, np.finfo(np.float32).tiny, 1.0)

    def in_follow_support(self, s: SessionSlates, rows: np.ndarray, video: np.ndarray) -> np.ndarray:
        """Whether the follow source could have produced `video` for the session."""
        up = self.index.upload_rel_s[video]
        recent = (up > s.follow_from_s[rows]) & (up <= s.t0_rel_s[rows])
        return recent & contains(s.follow_keys, s.creator_key_base[rows] + self.index.creator[video])

    def sample_slot(
        self, s: SessionSlates, rows: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """One video per session row (rows must have candidates left); returns (videos, propensities)."""
        q = self.topic_preference(s, rows)
        w = self.source_weights(s, rows, q)
        cdf = np.cumsum(w, axis=1)
        source = np.minimum((cdf < rng.random(len(rows))[:, None] * cdf[:, -1:]).sum(axis=1), 3)
        qcdf = np.cumsum(q, axis=1)
        topic = np.minimum((qcdf < rng.random(len(rows))[:, None] * qcdf[:, -1:]).sum(axis=1), q.shape[1] - 1)
        video = np.empty(len(rows), dtype=np.int64)
        for src in range(len(SOURCES)):
            picked = np.flatnonzero(source == src)
            if len(picked):
                video[picked] = self._draw_unexcluded(s, rows[picked], src, topic[picked], rng)
        return video, self.propensity(s, rows, video)

    def record(
        self, s: SessionSlates, rows: np.ndarray, video: np.ndarray, watched_topic: np.ndarray
    ) -> None:
        """Exclude shown videos from the rest of their sessions; `watched_topic` feeds the topic source."""
        ix = self.index
        topic = ix.primary_topic[video]
        s.seen[rows, s.n_seen[rows]] = video
        s.n_seen[rows] += 1
        s.excl_count[rows] += 1
        s.excl_trend[rows] += ix.w_trend[video]
        s.excl_topic_w[rows, topic] += ix.w_topic[video]
        s.excl_topic_n[rows, topic] += 1
        s.excl_follow[rows] += self.in_follow_support(s, rows, video)
        s.watched[rows] *= 0.8
        s.watched[rows, topic] += watched_topic
