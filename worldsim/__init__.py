"""worldsim: a seeded synthetic short-video world and its ground-truth user-response model.

Generate (`generate_world`), simulate (`Simulator`), load into the event log
(`simulate_into_database`), and reload the latent truth later (`load_world`) for oracle
evaluation and offline A/B tests through `World.response_model()`.
"""

from worldsim.config import WorldConfig
from worldsim.logging_policy import LoggingPolicy, PolicyParams
from worldsim.response_model import ACTIONS, ResponseContext, ResponseModel, ResponseParams
from worldsim.sessions import DayBatch, Simulator
from worldsim.simulate import SimulationReport, simulate_into_database
from worldsim.truth import load_world, world_dir
from worldsim.world import World, generate_world

__all__ = [
    "ACTIONS",
    "DayBatch",
    "LoggingPolicy",
    "PolicyParams",
    "ResponseContext",
    "ResponseModel",
    "ResponseParams",
    "SimulationReport",
    "Simulator",
    "World",
    "WorldConfig",
    "generate_world",
    "load_world",
    "simulate_into_database",
    "world_dir",
]
