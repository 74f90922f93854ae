"""The latent topic space: names, words for titles, global and regional popularity, per-topic traits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worldsim.config import REGION_SHARE, WorldConfig
from worldsim.seeding import rng_for

# Each topic has a name (its tag) and a few words that show up in titles, so text carries topic signal.
TOPIC_WORDS: tuple[tuple[str, ...], ...] = (
    ("cooking", "recipe", "kitchen", "pasta", "spicy"),
    ("gaming", "speedrun", "boss", "controller", "level"),
    ("dance", "choreo", "moves", "routine", "trend"),
    ("comedy", "prank", "skit", "laugh", "bit"),
    ("pets", "puppy", "kitten", "paws", "zoomies"),
    ("fitness", "workout", "reps", "gym", "cardio"),
    ("fashion", "outfit", "thrift", "style", "haul"),
    ("beauty", "makeup", "skincare", "glow", "lashes"),
    ("travel", "beach", "hostel", "roadtrip", "views"),
    ("music", "cover", "guitar", "beat", "vocals"),
    ("diy", "craft", "build", "glue", "upcycle"),
    ("science", "experiment", "physics", "lab", "facts"),
    ("cars", "engine", "drift", "garage", "turbo"),
    ("football", "goal", "dribble", "match", "keeper"),
    ("basketball", "dunk", "hoops", "buzzer", "court"),
    ("art", "painting", "sketch", "canvas", "ink"),
    ("books", "novel", "reading", "chapter", "booktok"),
    ("finance", "budget", "invest", "savings", "stocks"),
    ("tech", "gadget", "unboxing", "phone", "setup"),
    ("gardening", "plants", "seeds", "harvest", "soil"),
    ("parenting", "toddler", "baby", "mom", "dad"),
    ("asmr", "whisper", "tapping", "satisfying", "calm"),
    ("history", "ancient", "empire", "war", "myth"),
    ("anime", "manga", "cosplay", "episode", "waifu"),
)
GENERIC_WORDS: tuple[str, ...] = (
    "wait for it",
    "part 2",
    "pov",
    "day in my life",
    "no way",
    "watch till the end",
    "storytime",
    "tutorial",
    "tips",
    "challenge",
    "reaction",
    "vlog",
)


@dataclass(frozen=True)
class TopicSpace:
    """K latent topics: names, title words, popularity (global and per region) and per-topic traits."""

    names: tuple[str, ...]
    words: tuple[tuple[str, ...], ...]
    prior: np.ndarray  # (K,) global popularity, sums to 1
    region_prior: np.ndarray  # (R, K) regional popularity (language and culture tilt), rows sum to 1
    saveability: np.ndarray  # (K,) how much a topic invites saves (recipes, workouts)
    duration_shift: np.ndarray  # (K,) log-duration offset (tutorials run longer than memes)


def make_topics(config: WorldConfig) -> TopicSpace:
    """Topic names and latent topic parameters for a world."""
    rng = rng_for(config.seed, "topics")
    k = config.n_topics
    words = tuple(
        TOPIC_WORDS[i] if i < len(TOPIC_WORDS) else (f"topic{i}", f"t{i}a", f"t{i}b", f"t{i}c", f"t{i}d")
        for i in range(k)
    )
    # Zipf-like topic popularity in a random order: a few big topics and a long tail.
    prior = 1.0 / (rng.permutation(k) + 3.0) ** 0.9
    prior /= prior.sum()
    tilt = np.exp(rng.normal(0.0, 0.6, size=(len(REGION_SHARE), k)))
    region_prior = prior[None, :] * tilt
    region_prior /= region_prior.sum(axis=1, keepdims=True)
    return TopicSpace(
        names=tuple(w[0] for w in words),
        words=words,
        prior=prior,
        region_prior=region_prior,
        saveability=rng.normal(0.0, 0.8, size=k),
        duration_shift=rng.normal(0.0, 0.3, size=k),
    )
