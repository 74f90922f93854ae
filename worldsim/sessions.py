"""Sessions day by day: diurnal arrivals, pages served by the logging policy, responses, drifting intent.

Everything is vectorised over the day's sessions; the only Python loops run over pages and slots
(at most max_pages × page_size iterations a day), each advancing every still-active session at once.
Sessions start inside their UTC day and run to their natural end, so a day's last events (and the
window's) may fall a few minutes after midnight. Follows made today are known to the policy tomorrow.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from foryou.schema import DEVICES
from worldsim.candidate_index import CandidateIndex
from worldsim.config import DAY_MS
from worldsim.events import EventColumns, Impressions, build_events
from worldsim.graph import Edges, contains, pair_keys
from worldsim.logging_policy import LoggingPolicy, SessionSlates
from worldsim.response_model import ACTIONS, ResponseContext, sigmoid
from worldsim.seeding import rng_for
from worldsim.timeline import sample_times_in_day, weekday_factor
from worldsim.world import World

MOOD_SHARE = 0.5  # how far a session's starting intent departs from long-term taste
DRIFT = 0.5  # how fast intent moves toward what was just watched
# Next page with probability sigmoid(bias + k·(page view rate − ½) + user bias / 2): satisfied users stay.
CONTINUE_BIAS, CONTINUE_SATISFACTION = 0.45, 2.5


@dataclass(frozen=True)
class DayBatch:
    """One simulated UTC day: its impressions, its events and the follows its follow events created."""

    day: int
    impressions: Impressions
    events: EventColumns
    new_follows: Edges
    n_sessions: int


class Simulator:
    """Runs a world's days in order, carrying the follow graph and the event/session counters forward."""

    def __init__(self, world: World) -> None:
        self.world = world
        cfg, params = world.config, world.policy_params
        self.n_creators = len(world.creators)
        self.index = CandidateIndex.build(
            cfg, self.n_creators, world.videos, params.trend_half_life_days, params.topic_half_life_days
        )
        self.policy = LoggingPolicy(self.index, params)
        self.model = world.response_model()
        self.follow_keys = np.sort(world.graph.follows.keys(self.n_creators))
        blocks = world.graph.blocks
        self.block_order = np.argsort(blocks.keys(self.n_creators), kind="stable")
        self.all_block_keys = blocks.keys(self.n_creators)[self.block_order]
        self.next_event = 0
        self.next_session = 0

    def days(self) -> Iterator[DayBatch]:
        """Every day of the window, in order (each depends on the follows of the days before)."""
        for day in range(self.world.config.days):
            yield self.run_day(day)

    def _start_sessions(self, day: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(user, start ms) of the day's sessions, sorted by start time."""
        users, cfg = self.world.users, self.world.config
        day_start = cfg.start_ms + day * DAY_MS
        eligible = np.flatnonzero(users.signup_ms < day_start + DAY_MS)
        counts = rng.poisson(users.activity[eligible] * weekday_factor(day_start))
        user = np.repeat(eligible, counts)
        t0 = sample_times_in_day(day_start, users.region[user], rng)
        keep = t0 >= users.signup_ms[user]
        user, t0 = user[keep], t0[keep]
        order = np.lexsort((user, t0))
        return user[order].astype(np.int64), t0[order]

    def run_day(self, day: int) -> DayBatch:
        """Simulate one UTC day of sessions and return its rows."""
        world, cfg = self.world, self.world.config
        users = world.users
        rng = rng_for(cfg.seed, "sessions", day)
        user, t0 = self._start_sessions(day, rng)
        n = len(user)
        region = users.region[user].astype(np.int64)
        device = np.where(rng.random(n) < 0.9, users.device[user], rng.integers(0, len(DEVICES), n)).astype(
            np.int8
        )
        day_end = cfg.start_ms + (day + 1) * DAY_MS
        blocks = world.graph.blocks
        in_force = blocks.ms[self.block_order] < day_end  # a block applies from the start of its day
        slates = self.policy.start_sessions(
            user,
            region,
            t0,
            users.estimated_interest[user],
            self.follow_keys,
            self.all_block_keys[in_force],
            cfg.max_pages * cfg.page_size,
        )
        intent = self._initial_intent(user, region, rng)
        clock = t0.copy()
        records: list[dict[str, np.ndarray]] = []
        active = np.flatnonzero(slates.remaining > 0)
        for page in range(cfg.max_pages):
            if len(active) == 0:
                break
            clock[active] += rng.integers(100, 400, len(active))  # feed request latency
            page_views = np.zeros(len(active))
            for position in range(cfg.page_size):
                rows = active[slates.remaining[active] > 0]
                if len(rows) == 0:
                    break
                rec = self._serve_slot(rows, user, intent, clock, slates, rng)
                rec.update(page=np.full(len(rows), page), position=np.full(len(rows), position))
                records.append(rec)
                page_views[np.searchsorted(active, rows)] += rec["view"]
            satisfaction = page_views / cfg.page_size - 0.5
            p_next = sigmoid(
                CONTINUE_BIAS + CONTINUE_SATISFACTION * satisfaction + 0.5 * users.bias[user[active]]
            )
            active = active[(rng.random(len(active)) < p_next) & (slates.remaining[active] > 0)]
        return self._finish_day(day, records, user, device, region, n)

    def _initial_intent(self, user: np.ndarray, region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Long-term taste pulled toward one 'mood' topic: usually a favourite, sometimes something new."""
        users, topics = self.world.users, self.world.topics
        n, k = len(user), self.world.config.n_topics
        taste = users.interest[user].astype(np.float64)
        source = np.where((rng.random(n) < 0.7)[:, None], taste, topics.region_prior[region])
        cdf = np.cumsum(source, axis=1)
        mood = np.minimum((cdf < (rng.random(n) * cdf[:, -1])[:, None]).sum(axis=1), k - 1)
        intent = (1 - MOOD_SHARE) * taste
        intent[np.arange(n), mood] += MOOD_SHARE
        return intent

    def _serve_slot(
        self,
        rows: np.ndarray,
        user: np.ndarray,
        intent: np.ndarray,
        clock: np.ndarray,
        slates: SessionSlates,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """Show one video to each session in rows, sample the response, advance clock and intent."""
        videos = self.world.videos
        video, propensity = self.policy.sample_slot(slates, rows, rng)
        creator = videos.creator[video].astype(np.int64)
        following = contains(self.follow_keys, pair_keys(user[rows], creator, self.n_creators))
        ctx = ResponseContext(intent=intent[rows], following=following, session_position=slates.n_seen[rows])
        resp = self.model.sample(user[rows], video, ctx, rng)
        shown_at = clock[rows].copy()
        action_ms = shown_at[:, None] + (
            resp.dwell_ms[:, None] * rng.uniform(0.2, 1.0, (len(rows), len(ACTIONS)))
        )
        clock[rows] += resp.dwell_ms + rng.integers(200, 700, len(rows))  # swipe to the next video
        step = DRIFT * np.minimum(resp.watch_fraction, 1.0) * resp.view
        intent[rows] = (1 - step[:, None]) * intent[rows] + step[:, None] * videos.topics[video]
        watched = (resp.view & (resp.watch_fraction >= 0.5)).astype(np.float64)
        self.policy.record(slates, rows, video, watched)
        return {
            "row": rows,
            "video": video,
            "creator": creator,
            "ms": shown_at,
            "propensity": propensity,
            "view": resp.view,
            "watch_fraction": resp.watch_fraction,
            "dwell_ms": resp.dwell_ms,
            "action_ms": action_ms.astype(np.int64),
            "actions": resp.actions,
        }

    def _finish_day(
        self,
        day: int,
        records: list[dict[str, np.ndarray]],
        user: np.ndarray,
        device: np.ndarray,
        region: np.ndarray,
        n_sessions: int,
    ) -> DayBatch:
        """Concatenate the day's slots, build events and advance the follow graph and counters."""
        cat = {
            key: np.concatenate([r[key] for r in records]) if records else np.zeros(0, dtype=np.int64)
            for key in (
                "row",
                "video",
                "creator",
                "ms",
                "propensity",
                "view",
                "watch_fraction",
                "dwell_ms",
                "page",
                "position",
            )
        }
        n_actions = len(ACTIONS)
        actions = (
            np.concatenate([r["actions"] for r in records]) if records else np.zeros((0, n_actions), bool)
        )
        action_ms = (
            np.concatenate([r["action_ms"] for r in records])
            if records
            else np.zeros((0, n_actions), np.int64)
        )
        row = cat["row"].astype(np.int64)
        imps = Impressions(
            session=self.next_session + row,
            user=user[row],
            video=cat["video"].astype(np.int64),
            creator=cat["creator"].astype(np.int64),
            page=cat["page"].astype(np.int64),
            position=cat["position"].astype(np.int64),
            ms=cat["ms"].astype(np.int64),
            propensity=cat["propensity"].astype(np.float32),
            view=cat["view"].astype(bool),
            watch_fraction=cat["watch_fraction"].astype(np.float32),
            dwell_ms=cat["dwell_ms"].astype(np.int64),
            action_ms=action_ms,
            actions=actions,
            device=device[row],
            region=region[row].astype(np.int8),
        )
        events, new_follows = build_events(
            imps, self.next_event, self.n_creators, self.follow_keys, self.all_block_keys
        )
        self.follow_keys = np.union1d(self.follow_keys, new_follows.keys(self.n_creators))
        self.next_event += len(events)
        self.next_session += n_sessions
        return DayBatch(
            day=day, impressions=imps, events=events, new_follows=new_follows, n_sessions=n_sessions
        )
