"""Two-tower retrieval (TFRS): a user tower and a content-based video tower, in-batch softmax with log-Q.

    foryou train two-tower   # → artifacts/two-tower/<version>/{user_tower/, video_tower/, reference.npz, …}

Positives: the retrieval set (one row per user, video and request with a long watch, like, save or share —
never a bare impression). Loss: `tfrs.tasks.Retrieval`, in-batch softmax over the batch's positives plus one
hard negative per row, with
  - log-Q correction: `candidate_sampling_probability` = each video's share of the candidate stream the batch
    draws from (its frequency among training positives, plus among hard negatives when those are on), so
    popular videos are not pushed down merely for being frequent in-batch negatives (FIELD_NOTES: without it
    a two-tower scores half of popularity);
  - `remove_accidental_hits` with video ids (a user's own positive appearing as another row's candidate);
  - hard negatives: an impression of the same user the current re-ranker scored high (utility in the top
    `1 − hard_negative_min_quantile` of the training impressions) that got no like / long watch / share /
    save / comment / follow within the label horizon (`hard_negative_source = "reranker"`); without a current
    re-ranker that can score (the first training: the re-ranker is trained after the two-tower) the logged
    order stands in for "scored high": a shown-but-not-engaged impression in slot <
    `hard_negative_max_position` (`"position"`). The manifest's `hard_negative_source_used` says which.
User tower: hashed user id embedding + the `two_tower_user` features (missing indicator for a user without a
feature row, signed log1p, training mean/variance, NaN → 0, clipped), MLP, L2-normalised.
Video tower: content encoder over visual/text/audio vectors (corpus mean/variance, NaN → 0 plus a missing
indicator per modality; a column no video has, e.g. on MovieLens, is not an input at all — `content_widths`,
recorded in video_inputs.json and the manifest) and log duration, a hashed creator embedding, mean-pooled
hashed tag embeddings and, optionally, a video-id embedding over the training vocabulary with per-row dropout
(an unseen id maps to a zero vector) — so a brand-new video gets a content-based vector. MLP, L2-normalised;
logits divide by a temperature. Everything the towers need at serving time is inside the SavedModels (see
serving/two_tower.py).

Metrics on the holdout (`foryou evaluate`'s protocol, pipelines/train/retrieval_features.py): recall@100 and
@300 over the whole corpus by exact dot product, the same for popularity (most engaged videos of training) and
recent popularity (most engaged in the last 24 h of training), and recall@300 on holdout targets that had no
training positive (cold) and on those uploaded inside the holdout window (new uploads).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import foryou  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from foryou.errors import ConfigError
from foryou.runtime import Runtime
from pipelines.datasets.build import DatasetError
from pipelines.evaluate.retrieval import Corpus, make_queries
from pipelines.train import retrieval_features as rf
from pipelines.train.common import (
    TrainOptions,
    TrainResult,
    progress_task,
    save_artifact,
    seed_everything,
    tensorflow,
    warnings_off,
)
from pipelines.train.data import TrainingSets, load_sets
from serving.two_tower import (
    CONTENT_COLUMNS,
    FEATURE_SERVICE,
    REFERENCE_FILE,
    USER_TOWER,
    VIDEO_INPUTS_FILE,
    VIDEO_TOWER,
    VideoInputSpec,
    read_videos,
    video_inputs,
)

MODEL = "two-tower"
CLIP = 8.0
DEFAULTS: dict[str, Any] = {
    "embedding_dim": 64,
    "hidden": 128,
    "user_id_buckets": 50_000,
    "user_id_dim": 32,
    "creator_buckets": 5_000,
    "creator_dim": 16,
    "tag_buckets": 2_000,
    "tag_dim": 16,
    "max_tags": 8,
    "video_id_embedding": False,
    "video_id_dropout": 0.5,
    "hard_negatives": True,
    "hard_negative_source": "reranker",  # or "position"; "reranker" falls back to position without one
    "hard_negative_min_quantile": 0.75,
    "hard_negative_max_position": 3,
    "log_q": True,
    "recency": True,
    "mask_future_candidates": True,
    "temperature": 0.1,
    "epochs": 8,
    "batch_size": 1024,
    "learning_rate": 3e-3,
    "threads": 2,
}


def train(runtime: Runtime, options: TrainOptions, progress: Any = None) -> TrainResult:
    """Load the sets and the catalogue, fit, measure on the holdout, export and promote."""
    params = _params(options)
    sets = load_sets(
        runtime, "retrieval", until=options.until, since=options.since, holdout_days=options.holdout_days
    )
    pool = None
    if params["hard_negatives"]:
        try:
            ranking = load_sets(
                runtime, "ranking", until=sets.until, since=options.since, holdout_days=options.holdout_days
            )
        except DatasetError as exc:  # no impressions (MovieLens): nothing was shown, so no hard negatives
            if progress is not None:
                progress.console.print(f"no hard negatives: {exc}", markup=False)
        else:
            pool, params = hard_negative_pool(runtime, ranking.train, params, progress)
    videos = read_videos(runtime.engine)
    return fit_and_save(runtime, sets, videos, pool, options, params, progress)


def hard_negative_pool(
    runtime: Runtime, ranking_train: pd.DataFrame, params: dict[str, Any], progress: Any = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The hard-negative pool (user_id, video_id) and params with `hard_negative_source_used` recorded."""
    if params["hard_negative_source"] == "reranker":
        notes: list[str] = []
        scored = rf.reranker_scored_not_engaged(
            runtime, ranking_train, params["hard_negative_min_quantile"], notes
        )
        if scored is not None:
            pool, version = scored
            return pool, {**params, "hard_negative_source_used": f"reranker {version}"}
        if progress is not None:
            for note in notes:
                progress.console.print(note, markup=False)
    pool = rf.shown_not_engaged(ranking_train, params["hard_negative_max_position"])
    return pool, {**params, "hard_negative_source_used": "position"}


def fit_and_save(
    runtime: Runtime,
    sets: TrainingSets,
    videos: pd.DataFrame,
    hard_negative_pool: pd.DataFrame | None,
    options: TrainOptions,
    params: dict[str, Any],
    progress: Any = None,
) -> TrainResult:
    """Everything after loading: fit, measure, write the artifact."""
    features = list(sets.features)
    for frame, what in ((sets.train, "retrieval (train)"), (sets.holdout, "retrieval (holdout)")):
        rf.require_columns(frame, ["user_id", "video_id", "event_timestamp", *features], what)
    if not all(f.startswith("user_stats__") for f in features):
        raise ConfigError(
            f"The two-tower user tower reads the {FEATURE_SERVICE} FeatureService (user_stats only); the "
            f"retrieval set has {[f for f in features if not f.startswith('user_stats__')][:5]}."
        )
    fitted = fit(sets, videos, hard_negative_pool, params, options.seed, progress)
    metrics = holdout_metrics(runtime, sets, videos, fitted, options.seed, progress)
    if progress is not None:
        progress.console.print(metric_table(metrics))

    def write_files(folder: Path) -> None:
        fitted.export(folder)

    record = {
        **params,
        "video_vocabulary": int(len(fitted.video_vocabulary)),
        "hard_negative_pool": int(0 if hard_negative_pool is None else len(hard_negative_pool)),
        "content_widths": fitted.spec.widths,  # a content column absent here is not a tower input
        "content_columns_absent": [c for c in CONTENT_COLUMNS if c not in fitted.spec.widths],
        "dim": fitted.dim,
        "recency_weight_per_day": fitted.recency_weight(),
    }
    return save_artifact(
        runtime,
        model=MODEL,
        write_files=write_files,
        sets=sets,
        feature_service=FEATURE_SERVICE,
        features=features,
        metrics=metrics,
        primary_metric="recall_at_300",
        options=options,
        params=record,
    )


# fitting ---------------------------------------------------------------------------------------------------


@dataclass
class Fitted:
    """The trained towers (Keras), what their inputs look like, and a sample to check the export against."""

    tf: Any
    user_tower: Any
    video_tower: Any
    spec: VideoInputSpec
    n_features: int
    video_vocabulary: np.ndarray
    reference_users: tuple[np.ndarray, np.ndarray]
    reference_videos: dict[str, np.ndarray]

    def embed_users(self, user_ids: np.ndarray, x: np.ndarray, batch: int = 8192) -> np.ndarray:
        parts = [
            self.user_tower(
                {"user_id": user_ids[s : s + batch], "features": x[s : s + batch]}, training=False
            ).numpy()
            for s in range(0, len(user_ids), batch)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)

    def embed_videos(self, inputs: dict[str, np.ndarray], batch: int = 4096) -> np.ndarray:
        n = len(inputs["video_id"])
        parts = [
            self.video_tower({k: v[s : s + batch] for k, v in inputs.items()}, training=False).numpy()
            for s in range(0, n, batch)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)

    def recency_weight(self) -> float | None:
        """The learned score per day of upload recency (None without the recency component)."""
        layers = [layer for layer in self.video_tower.layers if layer.name == "recency"]
        return float(layers[0].get_weights()[0].reshape(-1)[0]) if layers else None

    @property
    def dim(self) -> int:
        return int(self.user_tower.output_shape[-1])

    def export(self, folder: Path) -> None:
        """Both towers as SavedModels with fixed input signatures, the input spec, the reference sample."""
        tf = self.tf
        user_module = tf.Module()
        user_module.tower = self.user_tower

        @tf.function(
            input_signature=[
                tf.TensorSpec([None], tf.int64, name="user_id"),
                tf.TensorSpec([None, self.n_features], tf.float32, name="features"),
            ]
        )
        def embed_users(user_id: Any, features: Any) -> Any:
            return self.user_tower({"user_id": user_id, "features": features}, training=False)

        user_module.embed = embed_users
        video_module = tf.Module()
        video_module.tower = self.video_tower

        @tf.function(input_signature=[video_signature(tf, self.spec)])
        def embed_videos(inputs: Any) -> Any:
            return self.video_tower(inputs, training=False)

        video_module.embed = embed_videos
        tf.saved_model.save(user_module, str(folder / USER_TOWER))
        tf.saved_model.save(video_module, str(folder / VIDEO_TOWER))
        (folder / VIDEO_INPUTS_FILE).write_text(self.spec.to_json())
        users, x = self.reference_users
        videos = dict(self.reference_videos)
        stored: dict[str, Any] = {f"video__{k}": v for k, v in videos.items() if k != "tags"}
        stored["video__tags"] = np.array([[t.decode() for t in row] for row in videos["tags"]], dtype=str)
        stored.update(
            user_id=users,
            user_features=x,
            user_vectors=self.embed_users(users, x),
            video_id=videos["video_id"],
            video_vectors=self.embed_videos(videos),
        )
        np.savez(folder / REFERENCE_FILE, **stored)


def video_signature(tf: Any, spec: VideoInputSpec) -> dict[str, Any]:
    signature = {
        "video_id": tf.TensorSpec([None], tf.int64, name="video_id"),
        "creator_id": tf.TensorSpec([None], tf.int64, name="creator_id"),
        "uploaded_s": tf.TensorSpec([None], tf.float64, name="uploaded_s"),
        "duration_s": tf.TensorSpec([None], tf.float32, name="duration_s"),
        "tags": tf.TensorSpec([None, None], tf.string, name="tags"),
    }
    for column in spec.content_columns:
        signature[column] = tf.TensorSpec([None, spec.widths[column]], tf.float32, name=column)
    return signature


def fit(
    sets: TrainingSets,
    videos: pd.DataFrame,
    hard_negative_pool: pd.DataFrame | None,
    params: dict[str, Any],
    seed: int,
    progress: Any = None,
) -> Fitted:
    """Train both towers on the training rows; returns them with their export metadata."""
    import tensorflow_recommenders as tfrs

    tf = tensorflow(params["threads"])
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    train = sets.train
    features = list(sets.features)
    spec = VideoInputSpec(widths=content_widths(videos), max_tags=int(params["max_tags"]))
    catalogue = video_inputs(videos, spec)
    row_of = pd.Series(np.arange(len(videos)), index=catalogue["video_id"])
    positives = train["video_id"].to_numpy(np.int64)
    unknown = np.setdiff1d(positives, catalogue["video_id"])
    if len(unknown):
        raise DatasetError(
            f"{len(unknown)} training videos are not in the videos table (e.g. {unknown[:5].tolist()}); "
            "the event log and the catalogue disagree — re-ingest the videos."
        )

    users = train["user_id"].to_numpy(np.int64)
    x = train[features].to_numpy(dtype=np.float32, na_value=np.nan)
    query_s = (train["event_timestamp"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(np.float64)
    columns: dict[str, Any] = {"user_id": users, "features": x, "query_s": query_s}
    columns["video"] = {k: v[row_of.loc[positives].to_numpy()] for k, v in catalogue.items()}
    stream = positives
    negatives = None
    if hard_negative_pool is not None:
        negatives = rf.sample_hard_negatives(users, hard_negative_pool, rng)
        known = np.isin(negatives, catalogue["video_id"])
        negatives = np.where(known, negatives, positives[rng.integers(0, len(positives), len(negatives))])
        columns["negative"] = {k: v[row_of.loc[negatives].to_numpy()] for k, v in catalogue.items()}
        stream = np.concatenate([positives, negatives])
    probability = rf.sampling_probability(stream)
    columns["positive_q"] = np.array([probability[v] for v in positives], dtype=np.float32)
    if negatives is not None:
        columns["negative_q"] = np.array([probability[v] for v in negatives], dtype=np.float32)

    vocabulary = np.unique(positives)
    # Normalisation statistics from the videos uploaded by the end of training only (no holdout peek).
    by_then = catalogue["uploaded_s"] <= sets.holdout_start.timestamp()
    known_catalogue = {k: v[by_then] for k, v in catalogue.items()}
    user_tower = build_user_tower(tf, x, params)
    video_tower = build_video_tower(
        tf, known_catalogue, spec, vocabulary, params, reference_s=sets.holdout_start.timestamp()
    )
    task = tfrs.tasks.Retrieval(
        remove_accidental_hits=True,
        temperature=params["temperature"],
    )
    log_q = bool(params["log_q"])
    mask_future = bool(params["mask_future_candidates"])

    class TwoTower(tfrs.models.Model):
        def __init__(self) -> None:
            super().__init__()
            self.user_tower = user_tower
            self.video_tower = video_tower
            self.task = task

        def compute_loss(self, batch: Any, training: bool = False) -> Any:
            query = self.user_tower(
                {"user_id": batch["user_id"], "features": batch["features"]}, training=training
            )
            candidates = self.video_tower(batch["video"], training=training)
            ids = batch["video"]["video_id"]
            q = batch["positive_q"]
            uploaded = batch["video"]["uploaded_s"]
            if "negative" in batch:
                candidates = tf.concat(
                    [candidates, self.video_tower(batch["negative"], training=training)], axis=0
                )
                ids = tf.concat([ids, batch["negative"]["video_id"]], axis=0)
                q = tf.concat([q, batch["negative_q"]], axis=0)
                uploaded = tf.concat([uploaded, batch["negative"]["uploaded_s"]], axis=0)
            # A candidate uploaded after a row's time could not have been served to it: not a negative.
            mask = uploaded[None, :] <= batch["query_s"][:, None] if mask_future else None
            return self.task(
                query,
                candidates,
                candidate_sampling_probability=q if log_q else None,
                candidate_ids=ids,
                compute_metrics=False,
                compute_batch_metrics=False,
                score_mask=mask,
            )

    model = TwoTower()
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=params["learning_rate"]))
    batch = int(params["batch_size"])
    data = (
        tf.data.Dataset.from_tensor_slices(columns)
        .shuffle(len(users), seed=seed, reshuffle_each_iteration=True)
        .batch(batch, drop_remainder=len(users) > batch)
    )
    steps = max(len(users) // batch, 1)
    advance = progress_task(progress, "fit two-tower", params["epochs"] * steps)

    class Advance(tf.keras.callbacks.Callback):  # type: ignore[name-defined]
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            advance(1)

    model.fit(data, epochs=params["epochs"], verbose=0, callbacks=[Advance()])

    sample = np.sort(rng.choice(len(users), size=min(64, len(users)), replace=False))
    video_sample = np.sort(rng.choice(len(videos), size=min(64, len(videos)), replace=False))
    return Fitted(
        tf=tf,
        user_tower=user_tower,
        video_tower=video_tower,
        spec=spec,
        n_features=len(features),
        video_vocabulary=vocabulary,
        reference_users=(users[sample], x[sample]),
        reference_videos={k: v[video_sample] for k, v in catalogue.items()},
    )


def content_widths(videos: pd.DataFrame) -> dict[str, int]:
    """Each content column's vector length, from the first non-NULL value (all must agree).

    A column no video has (all NULL: MovieLens has genres but no content vectors) is left out, so the video
    tower has no input for it; a column only some videos have stays in (NaN row + missing indicator)."""
    widths = {}
    for column in CONTENT_COLUMNS:
        values = [v for v in videos[column].tolist() if v is not None and not isinstance(v, float)]
        if values:
            widths[column] = len(values[0])
    return widths


def _nan_stats(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column mean and variance ignoring NaN (0 and 1 for an all-NaN or constant column)."""
    with np.errstate(invalid="ignore"), warnings_off():
        mean = np.nan_to_num(np.nanmean(z, axis=0))
        variance = np.nan_to_num(np.nanvar(z, axis=0), nan=1.0)
    return mean, np.where(variance > 1e-12, variance, 1.0)


def _standardise(tf: Any, z: Any, mean: np.ndarray, variance: np.ndarray) -> tuple[Any, Any]:
    """(standardised z with NaN → 0, clipped; the NaN mask)."""
    missing = tf.math.is_nan(z)
    zero = tf.zeros_like(z)
    z = (tf.where(missing, zero, z) - mean.astype(np.float32)) / np.sqrt(variance).astype(np.float32)
    return tf.clip_by_value(tf.where(missing, zero, z), -CLIP, CLIP), missing


def build_user_tower(tf: Any, x: np.ndarray, params: dict[str, Any]) -> Any:
    """Hashed user id embedding + features (missing indicator, signed log1p, standardised) → MLP."""
    signed = np.sign(x) * np.log1p(np.abs(x))
    mean, variance = _nan_stats(signed)
    user_id = tf.keras.Input(shape=(), dtype=tf.int64, name="user_id")
    features = tf.keras.Input(shape=(x.shape[1],), dtype=tf.float32, name="features")
    hashed = tf.keras.layers.Hashing(num_bins=params["user_id_buckets"], name="user_hash")(user_id)
    id_vector = tf.keras.layers.Embedding(
        params["user_id_buckets"], params["user_id_dim"], name="user_embedding"
    )(hashed)
    z, missing = _standardise(
        tf, tf.math.sign(features) * tf.math.log1p(tf.math.abs(features)), mean, variance
    )
    indicator = tf.reduce_max(tf.cast(missing, tf.float32), axis=1, keepdims=True)
    h = tf.concat([id_vector, z, indicator], axis=1)
    h = tf.keras.layers.Dense(params["hidden"], activation="relu", name="user_hidden")(h)
    out = tf.math.l2_normalize(tf.keras.layers.Dense(params["embedding_dim"], name="user_out")(h), axis=1)
    if params["recency"]:  # a constant 1 that meets the video's recency component in the dot product
        out = tf.concat([out, tf.ones_like(out[:, :1])], axis=1)
    return tf.keras.Model({"user_id": user_id, "features": features}, out, name="user_tower")


def build_video_tower(
    tf: Any,
    catalogue: dict[str, np.ndarray],
    spec: VideoInputSpec,
    vocabulary: np.ndarray,
    params: dict[str, Any],
    reference_s: float,
) -> Any:
    """Content (visual/text/audio, duration), creator, tags and optionally the id → MLP → unit vector, plus
    a learned linear recency component w · (uploaded − reference) / 1 day.

    Why linear: for one query, ranking by −age/τ (the exponential decay feeds use) equals ranking by
    uploaded/τ, so a term linear in the upload time expresses recency exactly without the query time, and
    it extrapolates to uploads newer than any training video (they rank as the freshest, as they are)."""
    inputs = {
        "video_id": tf.keras.Input(shape=(), dtype=tf.int64, name="video_id"),
        "creator_id": tf.keras.Input(shape=(), dtype=tf.int64, name="creator_id"),
        "uploaded_s": tf.keras.Input(shape=(), dtype=tf.float64, name="uploaded_s"),
        "duration_s": tf.keras.Input(shape=(), dtype=tf.float32, name="duration_s"),
        "tags": tf.keras.Input(shape=(None,), dtype=tf.string, name="tags"),
    }
    columns = spec.content_columns  # only the content columns some video has (possibly none)
    for column in columns:
        inputs[column] = tf.keras.Input(shape=(spec.widths[column],), dtype=tf.float32, name=column)

    # Statistics over the whole catalogue (content is known before any interaction; no label leaks).
    d_mean, d_var = _nan_stats(np.log1p(catalogue["duration_s"].astype(np.float64))[:, None])
    content_parts: list[Any] = []
    if columns:
        c_mean, c_var = _nan_stats(np.hstack([catalogue[c] for c in columns]))
        z, missing = _standardise(tf, tf.concat([inputs[c] for c in columns], axis=1), c_mean, c_var)
        indicators = []
        start = 0
        for column in columns:
            width = spec.widths[column]
            indicators.append(
                tf.reduce_max(tf.cast(missing[:, start : start + width], tf.float32), axis=1, keepdims=True)
            )
            start += width
        content_parts = [z, *indicators]
    duration, duration_missing = _standardise(tf, tf.math.log1p(inputs["duration_s"][:, None]), d_mean, d_var)
    content_h = tf.concat([*content_parts, duration, tf.cast(duration_missing, tf.float32)], axis=1)
    content_h = tf.keras.layers.Dense(params["hidden"], activation="relu", name="content_hidden")(content_h)

    creator = tf.keras.layers.Hashing(num_bins=params["creator_buckets"], name="creator_hash")(
        inputs["creator_id"]
    )
    creator_vector = tf.keras.layers.Embedding(
        params["creator_buckets"], params["creator_dim"], name="creator_embedding"
    )(creator)
    tag_hash = tf.keras.layers.Hashing(num_bins=params["tag_buckets"], name="tag_hash")(inputs["tags"])
    tag_vectors = tf.keras.layers.Embedding(params["tag_buckets"], params["tag_dim"], name="tag_embedding")(
        tag_hash
    )
    present = tf.cast(tf.not_equal(inputs["tags"], ""), tf.float32)[:, :, None]
    tags_vector = tf.reduce_sum(tag_vectors * present, axis=1) / tf.maximum(
        tf.reduce_sum(present, axis=1), 1.0
    )
    parts = [content_h, creator_vector, tags_vector]
    if params["video_id_embedding"]:
        lookup = tf.keras.layers.IntegerLookup(
            vocabulary=vocabulary.astype(np.int64), num_oov_indices=1, name="video_vocabulary"
        )(inputs["video_id"])
        id_vector = tf.keras.layers.Embedding(
            len(vocabulary) + 1, params["embedding_dim"], name="video_embedding"
        )(lookup)
        known = tf.cast(tf.not_equal(lookup, 0), tf.float32)[:, None]  # an unseen video: no id vector at all
        id_vector = tf.keras.layers.Dropout(params["video_id_dropout"], noise_shape=(None, 1))(
            id_vector * known
        )
        parts.append(id_vector)
    h = tf.keras.layers.Dense(params["hidden"], activation="relu", name="video_hidden")(
        tf.concat(parts, axis=1)
    )
    out = tf.math.l2_normalize(tf.keras.layers.Dense(params["embedding_dim"], name="video_out")(h), axis=1)
    if params["recency"]:
        days = tf.cast((inputs["uploaded_s"] - reference_s) / 86_400.0, tf.float32)[:, None]
        days = tf.where(tf.math.is_nan(days), tf.zeros_like(days), days)
        recency = tf.keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros", name="recency")(days)
        out = tf.concat([out, recency], axis=1)
    return tf.keras.Model(inputs, out, name="video_tower")


# metrics ---------------------------------------------------------------------------------------------------


def holdout_metrics(
    runtime: Runtime,
    sets: TrainingSets,
    videos: pd.DataFrame,
    fitted: Fitted,
    seed: int,
    progress: Any = None,
) -> dict[str, float]:
    """recall@100/@300 of the model and the popularity baselines, and cold-start recall, on the holdout."""
    advance = progress_task(progress, "holdout recall", 4)
    corpus = Corpus(
        videos["video_id"].to_numpy(np.int64),
        pd.to_numeric(videos["creator_id"]).fillna(-1).to_numpy(np.int64),
        (videos["uploaded_at"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(np.float64),
    )
    queries = make_queries(runtime.engine, corpus, sets.holdout, max_queries=None, seed=seed)
    if len(queries) == 0:
        raise DatasetError(
            f"The holdout ({sets.holdout_start}, {sets.until}] has no user with a positive on a video not "
            "shown to them before; nothing to measure recall on. Move --until or widen --holdout-days."
        )
    advance(1)
    video_vectors = fitted.embed_videos(video_inputs(videos, fitted.spec))
    x = queries.features[list(sets.features)].to_numpy(dtype=np.float32, na_value=np.nan)
    user_vectors = fitted.embed_users(queries.user_id, x)
    advance(1)
    k = max(rf.KS)
    popularity = rf.popularity_scores(sets.train, corpus)
    recent = rf.popularity_scores(sets.train, corpus, since=rf.last_day(sets.holdout_start))
    ranked = {
        "model": rf.rank(queries, corpus, rf.dot_product_ranker(user_vectors, video_vectors), k),
        "popularity": rf.rank(queries, corpus, lambda _i: popularity, k),
        "recent_popularity": rf.rank(queries, corpus, lambda _i: recent, k),
    }
    advance(1)
    trained_rows = corpus.rows(np.unique(sets.train["video_id"].to_numpy(np.int64)))
    goal = rf.targets(queries, corpus, trained_rows, sets.holdout_start)
    metrics = rf.recall_table(ranked, goal)
    metrics["queries"] = float(len(queries))
    metrics["cold_target_share"] = round(
        sum(len(t) for t in goal.cold) / max(sum(len(t) for t in goal.all), 1), 6
    )
    if metrics.get("popularity_recall_at_300"):
        metrics["recall_at_300_vs_popularity"] = round(
            metrics["recall_at_300"] / metrics["popularity_recall_at_300"], 4
        )
    advance(1)
    return metrics


def metric_table(metrics: dict[str, float]) -> Any:
    """A rich table: model vs the popularity baselines on the holdout."""
    from rich.table import Table

    table = Table(title=f"two-tower holdout recall ({int(metrics.get('queries', 0))} queries)")
    for column in ("list", "recall@100", "recall@300", "cold recall@300", "new-upload recall@300"):
        table.add_column(column, justify="right")

    def cell(name: str) -> str:
        return f"{metrics[name]:.4f}" if name in metrics else "–"

    for label, prefix in (
        ("two-tower", ""),
        ("popularity", "popularity_"),
        ("recent popularity", "recent_popularity_"),
    ):
        table.add_row(
            label,
            cell(f"{prefix}recall_at_100"),
            cell(f"{prefix}recall_at_300"),
            cell(f"{prefix}cold_recall_at_300"),
            cell(f"{prefix}new_upload_recall_at_300"),
        )
    return table


# helpers ---------------------------------------------------------------------------------------------------


def _params(options: TrainOptions) -> dict[str, Any]:
    unknown = sorted(set(options.params) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"Unknown two-tower params {unknown}; known: {', '.join(DEFAULTS)}.")
    params = {**DEFAULTS, **options.params}
    if options.epochs is not None:
        params["epochs"] = options.epochs
    for name in ("embedding_dim", "hidden", "batch_size", "epochs", "max_tags"):
        if int(params[name]) < 1:
            raise ConfigError(f"two-tower param {name} must be a positive integer (got {params[name]}).")
    if not 0 <= params["video_id_dropout"] < 1:
        raise ConfigError(f"video_id_dropout must be in [0, 1) (got {params['video_id_dropout']}).")
    if params["temperature"] is not None and params["temperature"] <= 0:
        raise ConfigError(f"temperature must be positive (got {params['temperature']}).")
    if params["hard_negative_source"] not in ("reranker", "position"):
        raise ConfigError(
            f"hard_negative_source must be 'reranker' or 'position' (got {params['hard_negative_source']!r})."
        )
    if not 0 <= params["hard_negative_min_quantile"] < 1:
        raise ConfigError(
            f"hard_negative_min_quantile must be in [0, 1) (got {params['hard_negative_min_quantile']})."
        )
    return params
