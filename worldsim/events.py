"""Turn one day's impressions and sampled responses into event rows and new follows (columnar, numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foryou.schema import EVENT_TYPES
from worldsim.graph import Edges, contains, pair_keys
from worldsim.response_model import ACTIONS

IMPRESSION, VIEW, SKIP = EVENT_TYPES.index("impression"), EVENT_TYPES.index("view"), EVENT_TYPES.index("skip")
ACTION_TYPES = np.array([EVENT_TYPES.index(a) for a in ACTIONS])
FOLLOW = EVENT_TYPES.index("follow")


@dataclass(frozen=True)
class Impressions:
    """One row per video shown, with the response it got."""

    session: np.ndarray  # int64 global session number
    user: np.ndarray
    video: np.ndarray
    creator: np.ndarray
    page: np.ndarray
    position: np.ndarray
    ms: np.ndarray  # when shown
    propensity: np.ndarray  # float32
    view: np.ndarray  # bool
    watch_fraction: np.ndarray  # float32
    dwell_ms: np.ndarray  # int64
    action_ms: np.ndarray  # (n, len(ACTIONS)) int64, meaningful where actions is true
    actions: np.ndarray  # (n, len(ACTIONS)) bool
    device: np.ndarray  # int8
    region: np.ndarray  # int8

    def __len__(self) -> int:
        return len(self.session)


@dataclass(frozen=True)
class EventColumns:
    """Event rows as columns; nullable columns use -1 (ints) or NaN (floats) for NULL."""

    event_no: np.ndarray
    impression: np.ndarray  # index into the day's Impressions (for shared per-impression fields)
    event_type: np.ndarray  # int8 index into EVENT_TYPES
    ms: np.ndarray
    dwell_ms: np.ndarray
    watch_fraction: np.ndarray
    propensity: np.ndarray

    def __len__(self) -> int:
        return len(self.event_no)


def build_events(
    imps: Impressions, first_event_no: int, n_creators: int, follow_keys: np.ndarray, block_keys: np.ndarray
) -> tuple[EventColumns, Edges]:
    """Impression, view/skip and action events sorted by time; each kept follow event is a new follow."""
    n = len(imps)
    act_imp, act_idx = np.nonzero(imps.actions)
    act_type = ACTION_TYPES[act_idx]
    # A user follows a creator once: drop follow events of pairs already followed, blocked, or repeated today.
    is_follow = act_type == FOLLOW
    f_rows = np.flatnonzero(is_follow)
    f_key = pair_keys(imps.user[act_imp[f_rows]], imps.creator[act_imp[f_rows]], n_creators)
    f_ms = imps.action_ms[act_imp[f_rows], act_idx[f_rows]]
    order = np.lexsort((f_rows, f_ms, f_key))
    first_of_pair = np.ones(len(order), dtype=bool)
    first_of_pair[1:] = f_key[order][1:] != f_key[order][:-1]
    keep_follow = np.zeros(len(f_rows), dtype=bool)
    keep_follow[order[first_of_pair]] = True
    keep_follow &= ~contains(follow_keys, f_key) & ~contains(block_keys, f_key)
    keep = np.ones(len(act_imp), dtype=bool)
    keep[f_rows[~keep_follow]] = False
    act_imp, act_idx, act_type = act_imp[keep], act_idx[keep], act_type[keep]

    rows = np.arange(n)
    impression = np.concatenate([rows, rows, act_imp])
    event_type = np.concatenate([np.full(n, IMPRESSION), np.where(imps.view, VIEW, SKIP), act_type]).astype(
        np.int8
    )
    ms = np.concatenate([imps.ms, imps.ms + imps.dwell_ms, imps.action_ms[act_imp, act_idx]])
    n_act = len(act_imp)
    dwell = np.concatenate([np.full(n, -1), imps.dwell_ms, np.full(n_act, -1)]).astype(np.int64)
    fraction = np.concatenate([np.full(n, np.nan), imps.watch_fraction, np.full(n_act, np.nan)]).astype(
        np.float32
    )
    propensity = np.concatenate([imps.propensity, np.full(n + n_act, np.nan)]).astype(np.float32)
    sub = np.concatenate([np.zeros(n), np.ones(n), 2 + act_idx]).astype(np.int64)
    order = np.lexsort((sub, impression, ms))
    events = EventColumns(
        event_no=first_event_no + np.arange(len(order), dtype=np.int64),
        impression=impression[order],
        event_type=event_type[order],
        ms=ms[order],
        dwell_ms=dwell[order],
        watch_fraction=fraction[order],
        propensity=propensity[order],
    )
    f_imp = act_imp[act_type == FOLLOW]
    f_at = imps.action_ms[f_imp, ACTIONS.index("follow")]
    f_user, f_creator = imps.user[f_imp].astype(np.int64), imps.creator[f_imp].astype(np.int64)
    f_order = np.lexsort((f_creator, f_user))
    new_follows = Edges(f_user[f_order], f_creator[f_order], f_at[f_order])
    return events, new_follows
