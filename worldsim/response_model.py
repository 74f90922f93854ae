"""The ground-truth response model: how a user responds to a video in context (oracle and generator).

The simulator draws every logged response from this model, so `expected_utility` and
`action_probabilities` are the exact expectations behind the event log: an oracle for offline
evaluation and the environment for offline A/B tests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from worldsim.catalog import Videos
from worldsim.population import Users

ACTIONS: tuple[str, ...] = ("tap", "like", "save", "share", "comment", "follow")
TRAITS: tuple[str, ...] = ("none", "quality", "saveability", "virality", "controversy")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, float64."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


@dataclass(frozen=True)
class ResponseParams:
    """Coefficients of the response model (saved with the world)."""

    intent_share: float = 0.7  # weight of session intent vs long-term taste in the topic match
    view_bias: float = -1.2
    topic_weight: float = 5.0
    quality_weight: float = 0.8
    style_weight: float = 2.0
    follow_bonus: float = 0.7
    fatigue_per_item: float = 0.008
    watch_base: float = 0.2  # E[watch_fraction | view] = base + span * sigmoid(z - shift)
    watch_span: float = 1.1
    watch_shift: float = 0.5
    watch_shape: float = 2.5  # gamma shape of watch_fraction given its mean
    skip_dwell_ms: tuple[int, int] = (250, 2000)
    # Per action, given a view: logit = bias + slope * z + trait_coef * video trait.
    action_bias: tuple[float, ...] = (-3.6, -4.1, -5.3, -6.0, -6.0, -5.9)
    action_slope: tuple[float, ...] = (0.5, 0.7, 0.5, 0.5, 0.4, 0.6)
    action_trait: tuple[str, ...] = ("none", "quality", "saveability", "virality", "controversy", "none")
    action_trait_coef: tuple[float, ...] = (0.0, 0.5, 1.0, 0.9, 0.9, 0.0)
    utility_weights: dict[str, float] = field(
        default_factory=lambda: {
            "watch_s": 0.05,
            "skip": -0.3,
            "tap": 0.3,
            "like": 1.0,
            "save": 2.0,
            "share": 2.0,
            "comment": 1.5,
            "follow": 4.0,
        }
    )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResponseParams:
        values = dict(data)
        for key in ("skip_dwell_ms", "action_bias", "action_slope", "action_trait", "action_trait_coef"):
            values[key] = tuple(values[key])
        return cls(**values)


@dataclass(frozen=True)
class ResponseContext:
    """What besides (user, video) shapes a response; every field optional (default: no session context)."""

    intent: np.ndarray | None = None  # (n, K) session intent; None = the user's long-term taste
    following: np.ndarray | None = None  # (n,) bool, user already follows the creator
    session_position: np.ndarray | None = None  # (n,) items already seen in this session


@dataclass(frozen=True)
class Responses:
    """Sampled responses to n impressions."""

    view: np.ndarray  # bool: watched (else skipped)
    watch_fraction: np.ndarray  # float32
    dwell_ms: np.ndarray  # int64
    actions: np.ndarray  # (n, len(ACTIONS)) bool, only ever true for views


class ResponseModel:
    """Ground-truth user responses, vectorised over (user, video) pairs."""

    def __init__(self, users: Users, videos: Videos, params: ResponseParams | None = None) -> None:
        self.users = users
        self.videos = videos
        self.params = params or ResponseParams()
        traits = {
            "none": np.zeros(len(videos), dtype=np.float32),
            "quality": videos.quality,
            "saveability": videos.saveability,
            "virality": videos.virality,
            "controversy": videos.controversy,
        }
        self._traits = np.stack([traits[name] for name in self.params.action_trait], axis=1)

    def affinity(
        self, user_ids: np.ndarray, video_ids: np.ndarray, context: ResponseContext | None = None
    ) -> np.ndarray:
        """The latent logit z of viewing (rather than skipping) each video."""
        p, ctx = self.params, context or ResponseContext()
        u, v = np.asarray(user_ids), np.asarray(video_ids)
        taste = self.users.interest[u]
        pref = taste if ctx.intent is None else (1 - p.intent_share) * taste + p.intent_share * ctx.intent
        match = np.einsum("ij,ij->i", pref, self.videos.topics[v])
        style = np.einsum("ij,ij->i", self.users.style[u], self.videos.style[v])
        z = (
            p.view_bias
            + p.topic_weight * match
            + p.quality_weight * self.videos.quality[v]
            + p.style_weight * style
            + self.users.bias[u]
        )
        if ctx.following is not None:
            z = z + p.follow_bonus * np.asarray(ctx.following, dtype=np.float64)
        if ctx.session_position is not None:
            z = z - p.fatigue_per_item * np.asarray(ctx.session_position, dtype=np.float64)
        return np.asarray(z, dtype=np.float64)

    def _action_logits(self, z: np.ndarray, video_ids: np.ndarray) -> np.ndarray:
        p = self.params
        return (
            np.asarray(p.action_bias)[None, :]
            + np.asarray(p.action_slope)[None, :] * z[:, None]
            + np.asarray(p.action_trait_coef)[None, :] * self._traits[video_ids]
        )

    def _mean_watch_given_view(self, z: np.ndarray) -> np.ndarray:
        p = self.params
        return p.watch_base + p.watch_span * sigmoid(z - p.watch_shift)

    def _skip_dwell_bounds(self, video_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.params.skip_dwell_ms
        duration_ms = self.videos.duration_s[video_ids].astype(np.float64) * 1000.0
        return np.full(len(video_ids), float(lo)), np.maximum(np.minimum(hi, 0.5 * duration_ms), lo + 10.0)

    def action_probabilities(
        self, user_ids: np.ndarray, video_ids: np.ndarray, context: ResponseContext | None = None
    ) -> dict[str, np.ndarray]:
        """Probability of each event type per impression, and the expected watch fraction and seconds."""
        v = np.asarray(video_ids)
        z = self.affinity(user_ids, v, context)
        p_view = sigmoid(z)
        given_view = sigmoid(self._action_logits(z, v))
        if context is not None and context.following is not None:
            given_view[:, ACTIONS.index("follow")] *= ~np.asarray(context.following, dtype=bool)
        out = {"view": p_view, "skip": 1.0 - p_view}
        for i, name in enumerate(ACTIONS):
            out[name] = p_view * given_view[:, i]
        duration_ms = self.videos.duration_s[v].astype(np.float64) * 1000.0
        lo, hi = self._skip_dwell_bounds(v)
        skip_fraction = (lo + hi) / 2.0 / duration_ms
        out["watch_fraction"] = p_view * self._mean_watch_given_view(z) + (1.0 - p_view) * skip_fraction
        out["watch_s"] = out["watch_fraction"] * duration_ms / 1000.0
        return out

    def expected_utility(
        self,
        user_ids: np.ndarray,
        video_ids: np.ndarray,
        context: ResponseContext | None = None,
        weights: dict[str, float] | None = None,
    ) -> np.ndarray:
        """Σ weight × expected count over event types and watch seconds (weights default to params)."""
        weights = self.params.utility_weights if weights is None else weights
        probs = self.action_probabilities(user_ids, video_ids, context)
        unknown = set(weights) - set(probs)
        if unknown:
            raise ValueError(f"Unknown utility terms {sorted(unknown)}; use any of {sorted(probs)}.")
        total = np.zeros(len(np.asarray(video_ids)), dtype=np.float64)
        for name in sorted(weights):  # a fixed order, so the float sum does not depend on dict order
            total += weights[name] * probs[name]
        return total

    def sample(
        self,
        user_ids: np.ndarray,
        video_ids: np.ndarray,
        context: ResponseContext | None,
        rng: np.random.Generator,
    ) -> Responses:
        """Draw view/skip, watch fraction, dwell and actions for each impression."""
        p, v = self.params, np.asarray(video_ids)
        n = len(v)
        z = self.affinity(user_ids, v, context)
        view = rng.random(n) < sigmoid(z)
        mean = self._mean_watch_given_view(z)
        watched = rng.gamma(p.watch_shape, mean / p.watch_shape)
        duration_ms = self.videos.duration_s[v].astype(np.float64) * 1000.0
        lo, hi = self._skip_dwell_bounds(v)
        skip_dwell = lo + rng.random(n) * (hi - lo)
        fraction = np.where(view, np.clip(watched, 0.01, 10.0), np.minimum(skip_dwell / duration_ms, 10.0))
        fraction = np.round(fraction, 4)
        dwell = np.round(fraction * duration_ms).astype(np.int64)
        acts = rng.random((n, len(ACTIONS))) < sigmoid(self._action_logits(z, v))
        acts &= view[:, None]
        if context is not None and context.following is not None:
            acts[:, ACTIONS.index("follow")] &= ~np.asarray(context.following, dtype=bool)
        return Responses(view=view, watch_fraction=fraction.astype(np.float32), dwell_ms=dwell, actions=acts)
