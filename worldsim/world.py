"""A world: its config and every latent and observable array, generated deterministically from the seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worldsim.catalog import Creators, Videos, make_creators, make_videos
from worldsim.config import WorldConfig
from worldsim.content import ContentProjections, content_vectors, make_projections, titles_and_tags
from worldsim.graph import SocialGraph, make_graph
from worldsim.logging_policy import PolicyParams
from worldsim.population import Users, make_users
from worldsim.response_model import ResponseModel, ResponseParams
from worldsim.topics import TopicSpace, make_topics


@dataclass(frozen=True)
class World:
    """Everything the simulator knows: the ground truth behind the tables and the tables' static rows."""

    config: WorldConfig
    topics: TopicSpace
    users: Users
    creators: Creators
    videos: Videos
    graph: SocialGraph
    projections: ContentProjections
    content: dict[str, np.ndarray]  # visual / text / audio vectors per video
    response_params: ResponseParams
    policy_params: PolicyParams

    def response_model(self) -> ResponseModel:
        """The ground-truth response model of this world (oracle for evaluation and offline A/B tests)."""
        return ResponseModel(self.users, self.videos, self.response_params)

    def titles_and_tags(self) -> tuple[list[str], list[list[str]]]:
        """Video titles and hashtags (derived deterministically, so not stored with the truth)."""
        return titles_and_tags(self.config, self.topics, self.videos)


def generate_world(
    config: WorldConfig,
    response_params: ResponseParams | None = None,
    policy_params: PolicyParams | None = None,
) -> World:
    """Generate users, creators, videos, content and the initial social graph for `config`."""
    topics = make_topics(config)
    users = make_users(config, topics)
    creators = make_creators(config, topics)
    videos = make_videos(config, topics, creators)
    projections = make_projections(config)
    return World(
        config=config,
        topics=topics,
        users=users,
        creators=creators,
        videos=videos,
        graph=make_graph(config, users, creators),
        projections=projections,
        content=content_vectors(config, videos, projections),
        response_params=response_params or ResponseParams(),
        policy_params=policy_params or PolicyParams(),
    )
