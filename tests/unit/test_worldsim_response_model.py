"""The ground-truth response model: hand-computed probabilities, utilities, and sampling that matches them."""

from __future__ import annotations

import numpy as np
import pytest

from worldsim.catalog import Videos
from worldsim.population import Users
from worldsim.response_model import ACTIONS, ResponseContext, ResponseModel, ResponseParams

# A clean parameter set so the numbers below can be checked by hand: z = 2 · topic match.
PARAMS = ResponseParams(
    intent_share=0.5,
    view_bias=0.0,
    topic_weight=2.0,
    quality_weight=1.0,
    style_weight=0.0,
    follow_bonus=1.0,
    fatigue_per_item=0.1,
    watch_base=0.2,
    watch_span=1.0,
    watch_shift=0.0,
    action_bias=(-1.0, -2.0, -3.0, -3.0, -3.0, -2.0),
    action_slope=(1.0, 1.0, 0.0, 0.0, 0.0, 0.0),
    action_trait=("none", "quality", "saveability", "virality", "controversy", "none"),
    action_trait_coef=(0.0, 1.0, 1.0, 1.0, 1.0, 0.0),
)


def _users() -> Users:
    interest = np.array([[1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
    zeros = np.zeros(2, dtype=np.float32)
    return Users(
        region=np.zeros(2, np.int8),
        device=np.zeros(2, np.int8),
        age_bucket=np.zeros(2, np.int8),
        signup_ms=np.zeros(2, np.int64),
        activity=np.ones(2, np.float32),
        interest=interest,
        estimated_interest=interest,
        style=np.zeros((2, 1), np.float32),
        bias=zeros,
    )


def _videos() -> Videos:
    zeros = np.zeros(2, dtype=np.float32)
    return Videos(
        creator=np.zeros(2, np.int32),
        uploaded_ms=np.zeros(2, np.int64),
        primary_topic=np.array([0, 1], np.int16),
        topics=np.eye(2, dtype=np.float32),
        quality=zeros,
        virality=np.array([0.0, 1.0], np.float32),
        controversy=zeros,
        saveability=zeros,
        style=np.zeros((2, 1), np.float32),
        duration_s=np.array([10.0, 20.0], np.float32),
        flagged=np.zeros(2, bool),
        allowed_mask=np.zeros(2, np.int32),
        log_buzz=zeros,
    )


@pytest.fixture
def model() -> ResponseModel:
    return ResponseModel(_users(), _videos(), PARAMS)


def test_affinity_is_the_topic_match_plus_context_terms(model: ResponseModel) -> None:
    users, videos = np.array([0, 0, 1]), np.array([0, 1, 0])
    # match: u0·v0 = 1, u0·v1 = 0, u1·v0 = 0.5  → z = 2, 0, 1
    np.testing.assert_allclose(model.affinity(users, videos), [2.0, 0.0, 1.0])
    # intent [0, 1] mixed half-half with taste: u0·v1 match = 0.5 → z = 1; following +1; 3 items seen −0.3
    ctx = ResponseContext(
        intent=np.array([[0.0, 1.0]]), following=np.array([True]), session_position=np.array([3])
    )
    np.testing.assert_allclose(model.affinity(np.array([0]), np.array([1]), ctx), [1.0 + 1.0 - 0.3])


def test_action_probabilities_match_hand_computed_values(model: ResponseModel) -> None:
    probs = model.action_probabilities(np.array([0, 0]), np.array([0, 1]))
    # z = 2: P(view) = σ(2) = 0.880797; z = 0: 0.5
    np.testing.assert_allclose(probs["view"], [0.8807971, 0.5], rtol=1e-6)
    np.testing.assert_allclose(probs["skip"], [0.1192029, 0.5], rtol=1e-6)
    # tap = σ(z)·σ(−1 + z): σ(2)·σ(1) = 0.880797·0.731059; σ(0)·σ(−1) = 0.5·0.268941
    np.testing.assert_allclose(probs["tap"], [0.6439142, 0.1344707], rtol=1e-6)
    # share = σ(z)·σ(−3 + virality): virality 0 → σ(−3) = 0.047426; virality 1 → σ(−2) = 0.119203
    np.testing.assert_allclose(probs["share"], [0.8807971 * 0.0474259, 0.5 * 0.1192029], rtol=1e-6)
    # E[watch | view] = 0.2 + σ(z); skip dwell mean = (250 + min(2000, duration/2)) / 2 ms
    watch_view = np.array([0.2 + 0.8807971, 0.2 + 0.5])
    skip_fraction = np.array([(250 + 2000) / 2 / 10_000, (250 + 2000) / 2 / 20_000])
    expected = probs["view"] * watch_view + probs["skip"] * skip_fraction
    np.testing.assert_allclose(probs["watch_fraction"], expected, rtol=1e-6)
    np.testing.assert_allclose(probs["watch_s"], expected * np.array([10.0, 20.0]), rtol=1e-6)


def test_following_rules_out_another_follow(model: ResponseModel) -> None:
    ctx = ResponseContext(following=np.array([True, False]))
    probs = model.action_probabilities(np.array([0, 0]), np.array([0, 0]), ctx)
    assert probs["follow"][0] == 0.0
    assert probs["follow"][1] > 0.0


def test_expected_utility_is_the_weighted_sum(model: ResponseModel) -> None:
    users, videos = np.array([0, 1, 1]), np.array([0, 0, 1])
    probs = model.action_probabilities(users, videos)
    utility = model.expected_utility(users, videos, weights={"like": 2.0, "watch_s": 0.1, "skip": -1.0})
    np.testing.assert_allclose(utility, 2.0 * probs["like"] + 0.1 * probs["watch_s"] - probs["skip"])
    with pytest.raises(ValueError, match="Unknown utility terms"):
        model.expected_utility(users, videos, weights={"likes": 1.0})


def test_sampled_responses_converge_to_the_probabilities(model: ResponseModel) -> None:
    n = 200_000
    users, videos = np.full(n, 1), np.full(n, 0)
    draws = model.sample(users, videos, ResponseContext(), np.random.default_rng(7))
    probs = model.action_probabilities(users[:1], videos[:1])
    assert abs(draws.view.mean() - probs["view"][0]) < 4 * np.sqrt(0.25 / n)
    for i, name in enumerate(ACTIONS):
        p = probs[name][0]
        assert abs(draws.actions[:, i].mean() - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-9, name
    assert abs(draws.watch_fraction.mean() - probs["watch_fraction"][0]) < 0.01
    assert not draws.actions[~draws.view].any()  # actions only follow a view
    np.testing.assert_array_equal(draws.dwell_ms, np.round(draws.watch_fraction.astype(np.float64) * 10_000))
