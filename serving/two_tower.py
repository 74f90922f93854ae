"""The two-tower retrieval model at serving time: a verified artifact in, float32 vectors out.

    model = TwoTowerModel.load(store)                 # artifacts/two-tower/current, every file re-hashed
    users = model.embed_users(user_ids, x)            # x: float32 [n, F] in model.features' order
    videos = model.embed_videos(read_videos(engine))  # rows of the `videos` table → float32 [n, model.dim]
    scores = users @ videos.T                         # exact dot product (or a FAISS inner-product index)

Stable API (the FAISS index builder depends on it):
- `TwoTowerModel.load(artifact_store, version=None, *, expected_features=None) -> TwoTowerModel`
- `.embed_users(user_ids, features) -> float32 [n, dim]`: user ids (int) and the `two_tower_user` features
  as a float32 matrix in `.features` order (the manifest's list; NaN = missing, e.g. a dormant user);
- `.embed_videos(videos) -> float32 [n, dim]`: a DataFrame with the `videos` table's columns
  (`VIDEO_COLUMNS`: video_id, creator_id, uploaded_at, duration_s, tags, visual_vec, text_vec, audio_vec;
  NULLs allowed); a video the model never saw in training gets a content-based vector like any other;
- `.dim`, `.version`, `.features`; `read_videos(engine, video_ids=None, uploaded_after=None)`.
Score = user · video (maximum inner product; use an inner-product FAISS index, not L2). The first dim − 1
components of both vectors are unit vectors (a cosine); with the recency component on (manifest param
`recency`), the last is 1 for every user and w · (uploaded_at − reference) / 1 day for a video, so newer
uploads score higher by a learned amount per day. A video's vector depends only on its `videos` row.

Artifact layout (artifacts/two-tower/<version>/):
    user_tower/    SavedModel, `embed(user_id: int64 [None], features: float32 [None, F])` → float32 [None, d]
    video_tower/   SavedModel, `embed({video_id: int64 [None], creator_id: int64 [None] (-1 = NULL),
                   uploaded_s: float64 [None] (unix seconds), duration_s: float32 [None] (NaN = NULL),
                   tags: string [None, None] ('' pads),
                   visual_vec / text_vec / audio_vec: float32 [None, width] (NaN row = NULL)})`
                   → float32 [None, d]; only the content columns of video_inputs.json are inputs
    video_inputs.json   the content widths and tag slots the video tower expects (`video_inputs` reads it);
                        a content column no training-time video had (all NULL, e.g. MovieLens) is absent
                        from `widths` and from the signature: the tower then reads tags + metadata + id
    reference.npz       a sample of inputs with the training-time vectors; `load` re-embeds it and refuses an
                        export that does not reproduce them (a broken export or a TensorFlow that differs)
Normalisation statistics, hash bucket counts and the video-id vocabulary live inside the SavedModels, so the
only preprocessing outside them is `video_inputs`: table rows → that dict of arrays, the same function the
trainer feeds. Serving never imports training code; load once per process and call the towers directly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import foryou  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from foryou.artifacts import Artifact, ArtifactError, ArtifactStore

MODEL = "two-tower"
FEATURE_SERVICE = "two_tower_user"
USER_TOWER = "user_tower"
VIDEO_TOWER = "video_tower"
VIDEO_INPUTS_FILE = "video_inputs.json"
REFERENCE_FILE = "reference.npz"
REFERENCE_TOLERANCE = 1e-4
CONTENT_COLUMNS = ("visual_vec", "text_vec", "audio_vec")
VIDEO_COLUMNS = ("video_id", "creator_id", "uploaded_at", "duration_s", "tags", *CONTENT_COLUMNS)


@dataclass(frozen=True)
class VideoInputSpec:
    """What the video tower's inputs look like: content vector widths and the number of tag slots.

    `widths` holds only the content columns the tower reads: a column no video had at training time (e.g.
    MovieLens, which has genres but no content vectors) is not an input at all."""

    widths: dict[str, int]
    max_tags: int

    @property
    def content_columns(self) -> tuple[str, ...]:
        """The content columns the tower reads, in `CONTENT_COLUMNS` order (possibly none)."""
        return tuple(c for c in CONTENT_COLUMNS if c in self.widths)

    def to_json(self) -> str:
        return json.dumps({"widths": self.widths, "max_tags": self.max_tags}, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> VideoInputSpec:
        data = json.loads(text)
        return cls(widths={k: int(v) for k, v in data["widths"].items()}, max_tags=int(data["max_tags"]))


def read_videos(
    engine: Engine,
    video_ids: Sequence[int] | np.ndarray | None = None,
    uploaded_after: datetime | None = None,
) -> pd.DataFrame:
    """Rows of `videos` (all, these ids, and/or uploaded after a time) with the columns the video tower reads,
    in video_id order."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if video_ids is not None:
        where.append("video_id = ANY(:ids)")
        params["ids"] = [int(v) for v in video_ids]
    if uploaded_after is not None:
        where.append("uploaded_at > :after")
        params["after"] = uploaded_after
    sql = f"SELECT {', '.join(VIDEO_COLUMNS)} FROM videos"
    sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY video_id"
    with engine.connect() as conn:
        rows = conn.execute(sa.text(sql), params).all()
    frame = pd.DataFrame(rows, columns=list(VIDEO_COLUMNS))
    frame["uploaded_at"] = pd.to_datetime(frame["uploaded_at"], utc=True)
    return frame


def video_inputs(videos: pd.DataFrame, spec: VideoInputSpec) -> dict[str, np.ndarray]:
    """Rows of the videos table → the video tower's input dict (NULL → -1 / NaN / '' as documented above)."""
    missing = [c for c in VIDEO_COLUMNS if c not in videos.columns]
    if missing:
        raise ValueError(
            f"embed_videos needs the videos table's columns {list(VIDEO_COLUMNS)}; missing {missing} "
            f"(got {list(videos.columns)[:12]}). Read rows with serving.two_tower.read_videos."
        )
    n = len(videos)
    out: dict[str, np.ndarray] = {
        "video_id": videos["video_id"].to_numpy(dtype=np.int64),
        "creator_id": pd.to_numeric(videos["creator_id"]).fillna(-1).to_numpy(dtype=np.int64),
        "uploaded_s": (pd.to_datetime(videos["uploaded_at"], utc=True) - pd.Timestamp(0, tz="UTC"))
        .dt.total_seconds()
        .to_numpy(dtype=np.float64, na_value=np.nan),
        "duration_s": pd.to_numeric(videos["duration_s"]).to_numpy(dtype=np.float32, na_value=np.nan),
    }
    tags = np.full((n, spec.max_tags), b"", dtype=object)
    for i, row in enumerate(videos["tags"].tolist()):
        if row is not None and len(row):
            kept = [str(t).encode() for t in list(row)[: spec.max_tags]]
            tags[i, : len(kept)] = kept
    out["tags"] = tags
    for column in spec.content_columns:
        width = spec.widths[column]
        matrix = np.full((n, width), np.nan, dtype=np.float32)
        for i, vector in enumerate(videos[column].tolist()):
            if vector is None or (isinstance(vector, float) and np.isnan(vector)):
                continue
            if len(vector) != width:
                raise ValueError(
                    f"video {int(out['video_id'][i])}: {column} has {len(vector)} values; the model was "
                    f"trained on {width}. Retrain the two-tower model on this catalogue."
                )
            matrix[i] = vector
        out[column] = matrix
    return out


class TwoTowerModel:
    """Both towers of one verified two-tower version."""

    def __init__(self, artifact: Artifact) -> None:
        import tensorflow as tf

        self._tf = tf
        self.artifact = artifact
        self.version: str = artifact.manifest.version
        self.features: list[str] = list(artifact.manifest.features)
        self.spec = VideoInputSpec.from_json(artifact.file(VIDEO_INPUTS_FILE).read_text())
        self._user = tf.saved_model.load(str(artifact.file(USER_TOWER)))
        self._video = tf.saved_model.load(str(artifact.file(VIDEO_TOWER)))
        dim = artifact.manifest.params.get("dim")
        if dim is None:
            raise ArtifactError(f"two-tower {self.version}: the manifest's params lack dim.")
        self.dim = int(dim)
        self._check_reference()

    @classmethod
    def load(
        cls,
        artifact_store: ArtifactStore,
        version: str | None = None,
        *,
        expected_features: Sequence[str] | None = None,
    ) -> TwoTowerModel:
        """The current (or given) version, every file re-hashed; optionally its feature list checked."""
        return cls(artifact_store.load(MODEL, version, expected_features=expected_features))

    def embed_users(self, user_ids: Sequence[int] | np.ndarray, features: Any) -> np.ndarray:
        """float32 [n, dim] for users with their `two_tower_user` features (float32 [n, F], NaN = missing)."""
        ids = np.asarray(user_ids, dtype=np.int64).reshape(-1)
        x = np.asarray(features, dtype=np.float32)
        if x.ndim != 2 or x.shape != (len(ids), len(self.features)):
            raise ValueError(
                f"embed_users takes {len(ids)} user ids and a float32 [{len(ids)}, {len(self.features)}] "
                f"matrix of {FEATURE_SERVICE} features in the manifest's order; got shape {x.shape}."
            )
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._user.embed(self._tf.constant(ids), self._tf.constant(x))
        return np.asarray(out.numpy(), dtype=np.float32)

    def embed_videos(self, videos: pd.DataFrame, batch: int = 4096) -> np.ndarray:
        """float32 [n, dim] for rows of the videos table (any video, trained on or brand new)."""
        return self._embed_video_inputs(video_inputs(videos, self.spec), batch)

    def embed_video_inputs(self, inputs: dict[str, np.ndarray], batch: int = 4096) -> np.ndarray:
        """float32 [n, dim] for the video tower's input dict (what `video_inputs` returns)."""
        return self._embed_video_inputs(inputs, batch)

    def reference_inputs(self) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | None:
        """(user ids, user features, video input dict) of `reference.npz`: a fixed sample of the version's
        users and videos (None when the artifact has no reference file)."""
        file = self.artifact.file(REFERENCE_FILE)
        if not file.is_file():
            return None
        with np.load(file) as ref:
            inputs = {k.removeprefix("video__"): ref[k] for k in ref.files if k.startswith("video__")}
            inputs["tags"] = np.char.encode(inputs["tags"], "utf-8").astype(object)
            return ref["user_id"], ref["user_features"], inputs

    def _embed_video_inputs(self, inputs: dict[str, np.ndarray], batch: int = 4096) -> np.ndarray:
        n = len(inputs["video_id"])
        parts = []
        for start in range(0, n, batch):
            chunk = {k: self._tf.constant(v[start : start + batch]) for k, v in inputs.items()}
            parts.append(self._video.embed(chunk).numpy())
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(np.concatenate(parts), dtype=np.float32)

    def _check_reference(self) -> None:
        """The SavedModels must reproduce the training-time vectors of the stored sample."""
        file = self.artifact.file(REFERENCE_FILE)
        if not file.is_file():
            return
        with np.load(file) as ref:
            users = self.embed_users(ref["user_id"], ref["user_features"])
            inputs = {k.removeprefix("video__"): ref[k] for k in ref.files if k.startswith("video__")}
            inputs["tags"] = np.char.encode(inputs["tags"], "utf-8").astype(object)
            videos = self._embed_video_inputs(inputs)
            for what, got, expected in (
                ("user", users, ref["user_vectors"]),
                ("video", videos, ref["video_vectors"]),
            ):
                gap = float(np.max(np.abs(got - expected))) if got.size else 0.0
                if not gap <= REFERENCE_TOLERANCE:
                    raise ArtifactError(
                        f"two-tower {self.version}: the exported {what} tower differs from the trained one "
                        f"by {gap:.2e} on the reference sample (tolerance {REFERENCE_TOLERANCE}); the export "
                        "or the TensorFlow version is broken. Retrain with `foryou train two-tower`."
                    )
