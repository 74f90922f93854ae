"""Users: region, device, signup time, activity, and the latent long-term taste the response model reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foryou.schema import DEVICES
from worldsim.config import DAY_MS, REGION_SHARE, WorldConfig
from worldsim.sampling import sparse_mixture
from worldsim.seeding import rng_for
from worldsim.topics import TopicSpace

AGE_BUCKETS: tuple[str, ...] = ("13-17", "18-24", "25-34", "35-44", "45+")
DEVICE_SHARE = np.array([0.42, 0.53, 0.05])  # ios, android, web


@dataclass(frozen=True)
class Users:
    """Per-user arrays indexed by user_id (0..n-1)."""

    region: np.ndarray  # int8 index into config.regions
    device: np.ndarray  # int8 index into DEVICES (primary device)
    age_bucket: np.ndarray  # int8 index into AGE_BUCKETS
    signup_ms: np.ndarray  # int64
    activity: np.ndarray  # float32 expected sessions per day
    interest: np.ndarray  # (n, K) float32 sparse long-term topic mixture, rows sum to 1
    estimated_interest: np.ndarray  # (n, K) float32 the platform's noisy profile (logging policy input)
    style: np.ndarray  # (n, S) float32 within-topic taste
    bias: np.ndarray  # float32 general appetite to watch

    def __len__(self) -> int:
        return len(self.region)


def make_users(config: WorldConfig, topics: TopicSpace) -> Users:
    """A population with heavy-tailed activity and sparse topic interests tilted by region."""
    rng = rng_for(config.seed, "users")
    n, k = config.n_users, config.n_topics
    region = rng.choice(len(REGION_SHARE), size=n, p=np.asarray(REGION_SHARE)).astype(np.int8)
    device = rng.choice(len(DEVICES), size=n, p=DEVICE_SHARE).astype(np.int8)
    age = rng.choice(len(AGE_BUCKETS), size=n, p=[0.18, 0.34, 0.26, 0.13, 0.09]).astype(np.int8)
    # Most users exist before the window (up to two years back); a share signs up during it (cold start).
    is_new = rng.random(n) < config.new_user_share
    before = config.start_ms - (rng.random(n) * 730 * DAY_MS).astype(np.int64)
    during = config.start_ms + (rng.random(n) * config.days * DAY_MS).astype(np.int64)
    signup_ms = np.where(is_new, during, before) // 1000 * 1000
    # Log-normal activity: most users are light, a few are heavy (mean = sessions_per_user_day).
    activity = (config.sessions_per_user_day * rng.lognormal(-0.5, 1.0, size=n)).astype(np.float32)
    n_active = np.minimum(1 + rng.poisson(1.5, size=n), min(6, k))
    interest = sparse_mixture(topics.region_prior[region], n_active, rng)
    noise = rng.lognormal(0.0, 0.5, size=(n, k))
    known = interest * noise + 0.05 * topics.prior[None, :]
    estimated = np.where(is_new[:, None], topics.region_prior[region], known)
    estimated = (estimated / estimated.sum(axis=1, keepdims=True)).astype(np.float32)
    style = (rng.normal(0.0, 1.0, size=(n, config.style_dim)) / np.sqrt(config.style_dim)).astype(np.float32)
    return Users(
        region=region,
        device=device,
        age_bucket=age,
        signup_ms=signup_ms,
        activity=activity,
        interest=interest,
        estimated_interest=estimated,
        style=style,
        bias=rng.normal(0.0, 0.5, size=n).astype(np.float32),
    )
