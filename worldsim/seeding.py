"""Independent random streams per world component, so changing one part never shifts another."""

from __future__ import annotations

import zlib

import numpy as np


def rng_for(seed: int, stream: str, *index: int) -> np.random.Generator:
    """A generator for (seed, stream name, optional indices such as the day number)."""
    # crc32 of the name is stable across processes, unlike hash().
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(stream.encode()), *index]))
