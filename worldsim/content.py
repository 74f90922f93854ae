"""Observable content: visual/text/audio vectors as noisy projections of latent traits, titles and tags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worldsim.catalog import Videos
from worldsim.config import WorldConfig
from worldsim.seeding import rng_for
from worldsim.topics import GENERIC_WORDS, TopicSpace

# Noise standard deviation per modality relative to a unit-scale signal: audio says least about a video.
NOISE = {"visual": 1.5, "text": 1.8, "audio": 2.5}


@dataclass(frozen=True)
class ContentProjections:
    """Fixed random maps from latent features to each modality (part of the world's truth)."""

    visual: np.ndarray  # (F, visual_dim)
    text: np.ndarray  # (F, text_dim)
    audio: np.ndarray  # (F, audio_dim)


def latent_features(videos: Videos) -> np.ndarray:
    """(n, F) latent features the encoders see through noise: topics, quality, style, virality."""
    return np.hstack(
        [
            2.0 * videos.topics,
            0.5 * videos.quality[:, None],
            videos.style * np.sqrt(videos.style.shape[1]) * 0.5,
            0.3 * videos.virality[:, None],
        ]
    ).astype(np.float32)


def make_projections(config: WorldConfig) -> ContentProjections:
    """Random Gaussian projections, scaled so each output dimension has roughly unit signal variance."""
    rng = rng_for(config.seed, "content-projections")
    n_features = config.n_topics + 1 + config.style_dim + 1

    def proj(dim: int) -> np.ndarray:
        return (rng.normal(0.0, 1.0, (n_features, dim)) / np.sqrt(2.0)).astype(np.float32)

    return ContentProjections(
        visual=proj(config.visual_dim), text=proj(config.text_dim), audio=proj(config.audio_dim)
    )


def content_vectors(
    config: WorldConfig, videos: Videos, projections: ContentProjections
) -> dict[str, np.ndarray]:
    """visual/text/audio vectors (float32, rounded to 4 decimals so the text form stays short)."""
    rng = rng_for(config.seed, "content-noise")
    features = latent_features(videos)
    out: dict[str, np.ndarray] = {}
    for name in ("visual", "text", "audio"):
        matrix = getattr(projections, name)
        signal = features @ matrix
        noisy = signal + rng.normal(0.0, NOISE[name], signal.shape)
        out[name] = np.round(noisy, 4).astype(np.float32)
    return out


def titles_and_tags(
    config: WorldConfig, topics: TopicSpace, videos: Videos
) -> tuple[list[str], list[list[str]]]:
    """Short titles from topic words (with some off-topic noise) and hashtags from the video's topics."""
    rng = rng_for(config.seed, "content-text")
    n, k = len(videos), config.n_topics
    primary = videos.primary_topic.astype(np.int64)
    noisy_topic = np.where(rng.random(n) < 0.15, rng.integers(0, k, n), primary)
    w1 = rng.integers(1, 5, n)
    w2 = 1 + (w1 - 1 + rng.integers(1, 4, n)) % 4  # never the same word twice
    generic = rng.integers(0, len(GENERIC_WORDS), n)
    secondary = np.argsort(-videos.topics, axis=1)[:, 1]
    has_secondary = videos.topics[np.arange(n), secondary] > 0.2
    wrong_tag = np.where(rng.random(n) < 0.08, rng.integers(0, k, n), primary)
    words, names = topics.words, topics.names
    titles = [
        f"{words[p][a]} {words[q][b]} {GENERIC_WORDS[g]}"
        for p, q, a, b, g in zip(
            primary.tolist(), noisy_topic.tolist(), w1.tolist(), w2.tolist(), generic.tolist(), strict=True
        )
    ]
    tags = [
        [names[t]] + ([names[s]] if h and s != t else [])
        for t, s, h in zip(wrong_tag.tolist(), secondary.tolist(), has_secondary.tolist(), strict=True)
    ]
    return titles, tags
