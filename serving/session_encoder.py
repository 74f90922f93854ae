"""The session encoder at serving time: the last watched videos of a session in, a query vector out.

    two_tower = TwoTowerModel.load(store)
    session = SessionEncoder.load(store, two_tower.version)        # refuses a model of another two-tower
    query = session.encode(prefix_embeddings, steps)               # float32 [L, d], [L, k] → float32 [d]
    scores = video_vectors @ query                                 # same space as the two-tower video tower

Inputs, per watched video of the session, oldest first (at most `max_len`; longer prefixes keep the last):
- its video-tower embedding (`TwoTowerModel.embed_videos`, float32 [d], the two-tower version the session
  model was trained against — `load` checks it);
- `STEP_FEATURES` in this order, raw (the TorchScript module transforms them): dwell_ms, watch_fraction,
  skipped (1 for a skip, 0 for a view), engaged (1 if the user liked, saved or shared it in this session by
  the end of the watch), age_s (seconds from the end of the watch to now).
Output: an L2-normalised float32 [d] query, compared by dot product with video-tower embeddings.

Artifact layout (artifacts/session/<version>/):
    session_encoder.pt   TorchScript, `forward(embeddings float32 [B, L, d], steps float32 [B, L, k],
                         lengths int64 [B]) -> float32 [B, d]`; 1 ≤ L ≤ max_len, steps left-aligned (step 0
                         the oldest, rows padded after `lengths` with anything finite — they are ignored)
    reference.npz        training-time inputs and outputs of a sample (the export check)
Serving never imports training code; load once per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from foryou.artifacts import Artifact, ArtifactError, ArtifactStore

MODEL = "session"
MODULE_FILE = "session_encoder.pt"
REFERENCE_FILE = "reference.npz"
STEP_FEATURES = ("dwell_ms", "watch_fraction", "skipped", "engaged", "age_s")
FEATURES = ["video_embedding", *STEP_FEATURES]  # the manifest's per-step input names


class SessionEncoder:
    """One verified session-encoder version, bound to the two-tower version it was trained against."""

    def __init__(self, artifact: Artifact) -> None:
        import torch

        self._torch = torch
        self.artifact = artifact
        manifest = artifact.manifest
        self.version: str = manifest.version
        self.two_tower_version: str = str(manifest.params.get("two_tower_version"))
        self.dim = int(manifest.params["embedding_dim"])
        self.max_len = int(manifest.params["max_len"])
        self.features: list[str] = list(manifest.features)
        if self.features != FEATURES:
            raise ArtifactError(
                f"session {self.version} reads per-step inputs {self.features}; this serving code passes "
                f"{FEATURES}. Retrain with `foryou train session` or deploy matching serving code."
            )
        self._module = torch.jit.load(str(artifact.file(MODULE_FILE)), map_location="cpu")
        self._module.eval()

    @classmethod
    def load(
        cls, artifact_store: ArtifactStore, two_tower_version: str, version: str | None = None
    ) -> SessionEncoder:
        """The current (or given) version, files re-hashed; refused unless trained on `two_tower_version`."""
        artifact = artifact_store.load(MODEL, version)
        trained_on = artifact.manifest.params.get("two_tower_version")
        if trained_on != two_tower_version:
            raise ArtifactError(
                f"session {artifact.manifest.version} was trained against two-tower {trained_on}, but "
                f"serving loaded two-tower {two_tower_version}: its queries would live in another vector "
                "space. Retrain it with `foryou train session` (after the two-tower is promoted), or load "
                f"two-tower {trained_on}."
            )
        return cls(artifact)

    def encode(self, prefix_embeddings: Any, steps: Any) -> np.ndarray:
        """float32 [d] for one session: embeddings [L, d] and STEP_FEATURES [L, k], oldest step first."""
        e = np.asarray(prefix_embeddings, dtype=np.float32)
        s = np.asarray(steps, dtype=np.float32)
        if e.ndim != 2 or s.ndim != 2 or len(e) != len(s) or len(e) == 0:
            raise ValueError(
                f"encode takes float32 [L, {self.dim}] embeddings and [L, {len(STEP_FEATURES)}] steps "
                f"with the same L ≥ 1; got {e.shape} and {s.shape}."
            )
        e, s = e[-self.max_len :], s[-self.max_len :]
        return self.encode_batch(e[None], s[None], np.array([len(e)]))[0]

    def encode_batch(self, embeddings: Any, steps: Any, lengths: Sequence[int] | np.ndarray) -> np.ndarray:
        """float32 [B, d]: embeddings [B, L, d], steps [B, L, k] left-aligned, lengths [B] in 1 … L."""
        e = np.asarray(embeddings, dtype=np.float32)
        s = np.asarray(steps, dtype=np.float32)
        n = np.asarray(lengths, dtype=np.int64).reshape(-1)
        k = len(STEP_FEATURES)
        if (
            e.ndim != 3
            or e.shape[2] != self.dim
            or s.shape != (*e.shape[:2], k)
            or len(n) != len(e)
            or not 1 <= e.shape[1] <= self.max_len
        ):
            raise ValueError(
                f"encode_batch takes float32 [B, L, {self.dim}] embeddings, [B, L, {k}] steps "
                f"({', '.join(STEP_FEATURES)}) and int [B] lengths with 1 ≤ L ≤ {self.max_len}; got "
                f"{e.shape}, {s.shape}, {n.shape}."
            )
        if len(n) and (n.min() < 1 or n.max() > e.shape[1]):
            raise ValueError(f"lengths must be in [1, {e.shape[1]}]; got {n.min()} … {n.max()}.")
        if len(e) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        torch = self._torch
        with torch.inference_mode():
            out = self._module(torch.from_numpy(e), torch.from_numpy(s), torch.from_numpy(n))
        return np.asarray(out.numpy(), dtype=np.float32)
