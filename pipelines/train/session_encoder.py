"""Session encoder (torch): the last watched videos of a session → a query in the two-tower video space.

    foryou train two-tower && foryou train session     # → artifacts/session/<version>/session_encoder.pt

Data (pipelines/train/sessions.py, SQL): per session, each positively engaged video (long watch ≥ 0.75, like,
save, share) is a target; its prefix is the last `max_len` (≤ 20) watched videos (views and skips, with
dwell_ms, watch_fraction, skipped, engaged, age_s) logged strictly before the target was shown. Targets with
target_ts ≤ holdout start train; later ones are the holdout (`pipelines.train.data` conventions: until
defaults to the feature watermark, the holdout is its last `holdout_days`).

Model: each step is [video-tower embedding ‖ transformed step features] → a small GRU (or a transformer with
positions counted from the newest step) → the state at the newest step, concatenated with the newest step's
embedding → linear → L2-normalised query of the two-tower dimension. The video embeddings are **frozen**:
the query must live in the space the video index is built from.

Loss: **full softmax over the whole corpus** (logits = query · every video-tower vector / temperature).
The corpus is small (20k × 64 on the dev world: one [B, d] × [d, N] product per batch), so the exact
softmax is affordable and needs no sampling correction: log-Q corrects the bias of *sampled* / in-batch
negatives, and there are none here. Above a few hundred thousand videos, switch to in-batch or sampled
softmax with log-Q (as the two-tower does).

Metrics on the holdout: within-session next-item recall@100 and @300 over the whole corpus (every video
uploaded by the cut and not shown to the user before it — serving's filters), for the session encoder, the
long-term two-tower user tower (its user features at the cut), the last watched video's embedding and the
mean of the prefix embeddings as queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
import torch
from sqlalchemy.engine import Engine
from torch import nn

from foryou.artifacts import Artifact, ArtifactError
from foryou.errors import ConfigError
from foryou.runtime import Runtime
from pipelines.datasets.build import DatasetError
from pipelines.evaluate.retrieval import Corpus, load_corpus
from pipelines.train.common import (
    TrainOptions,
    TrainResult,
    artifact_store,
    progress_task,
    save_artifact,
    seed_everything,
)
from pipelines.train.data import TrainingSets, features_built_until
from pipelines.train.sessions import Sequences, empty_window_error, read_sequences
from serving.session_encoder import FEATURES, MODULE_FILE, REFERENCE_FILE, STEP_FEATURES

MODEL = "session"
KS = (100, 300)
USER_STATS_TTL = timedelta(days=90)  # feature_repo/views.py: user_stats ttl
DEFAULTS: dict[str, Any] = {
    "encoder": "gru",  # or "transformer"
    "max_len": 20,
    "hidden": 64,
    "layers": 1,
    "heads": 2,
    "dropout": 0.1,
    "temperature": 0.05,
    "epochs": 4,
    "batch_size": 256,
    "learning_rate": 2e-3,
    "weight_decay": 1e-5,
    "threads": 2,
    "min_targets": 20,
}


# the video space -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoSpace:
    """The frozen video-tower embeddings the session model is trained against (the seam to the two-tower).

    `user_queries(user_ids, at)`, when given, embeds users with the long-term tower at those times (the
    baseline the session model must beat); without it that baseline is left out of the metrics.
    """

    version: str
    video_ids: np.ndarray  # int64 [n]
    vectors: np.ndarray  # float32 [n, d]
    user_queries: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def two_tower_space(runtime: Runtime) -> VideoSpace:
    """The current two-tower's video vectors (all videos) and user tower; a clear error without one."""
    from serving.two_tower import TwoTowerModel, read_videos

    store = artifact_store(runtime)
    try:
        model = TwoTowerModel.load(store)
    except ArtifactError as exc:
        raise ArtifactError(
            "The session encoder is trained in the two-tower video space and there is no usable current "
            f"two-tower under {store.root / 'two-tower'} ({exc}). Train two-tower first: "
            "`foryou train two-tower`, then `foryou train session`."
        ) from exc
    videos = read_videos(runtime.engine)
    engine = runtime.engine

    def user_queries(user_ids: np.ndarray, at: np.ndarray) -> np.ndarray:
        return model.embed_users(user_ids, user_features_at(engine, model.features, user_ids, at))

    return VideoSpace(
        model.version,
        videos["video_id"].to_numpy(np.int64),
        model.embed_videos(videos),
        user_queries,
    )


def user_features_at(engine: Engine, features: list[str], user_ids: np.ndarray, at: np.ndarray) -> np.ndarray:
    """float32 [n, F] `user_stats__*` features as of each time (latest row ≤ t within the TTL, created ≤ t;
    NaN without one) — the point-in-time semantics of `pipelines.datasets`."""
    columns = [f.split("__", 1)[1] for f in features]
    if not all(f.startswith("user_stats__") for f in features):
        raise ConfigError(
            f"The two-tower user tower reads user_stats only; its manifest lists {features[:5]}."
        )
    cols = ", ".join(f'f."{c}"::double precision' for c in columns)
    sql = (
        f"SELECT q.i, {cols} FROM unnest(CAST(:users AS bigint[]), CAST(:at AS timestamptz[])) "
        "WITH ORDINALITY AS q(user_id, at, i) LEFT JOIN LATERAL (SELECT * FROM features.user_stats AS f "
        "WHERE f.user_id = q.user_id AND f.event_timestamp <= q.at AND f.event_timestamp >= q.at - :ttl "
        "AND f.created <= q.at ORDER BY f.event_timestamp DESC, f.created DESC LIMIT 1) AS f ON true "
        "ORDER BY q.i"
    )
    times = [t.to_pydatetime() for t in pd.to_datetime(pd.Series(at), utc=True)]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(sql), {"users": [int(u) for u in user_ids], "at": times, "ttl": USER_STATS_TTL}
        ).all()
    return np.array([r[1:] for r in rows], dtype=np.float32).reshape(len(user_ids), len(features))


# entry points ----------------------------------------------------------------------------------------------


def train(runtime: Runtime, options: TrainOptions, progress: Any = None) -> TrainResult:
    """Embed the corpus with the current two-tower, read the sequences, fit, measure, export, promote."""
    params = _params(options)
    until = options.until or features_built_until(runtime)
    space = two_tower_space(runtime)
    return fit_and_save(runtime, space, options, params, until=until, progress=progress)


def fit_and_save(
    runtime: Runtime,
    space: VideoSpace,
    options: TrainOptions,
    params: dict[str, Any],
    *,
    until: datetime,
    progress: Any = None,
) -> TrainResult:
    """Everything after choosing the video space: sequences, fit, holdout metrics, artifact."""
    engine = runtime.engine
    holdout_start = until - timedelta(days=options.holdout_days)
    corpus = load_corpus(engine)
    vectors = aligned_vectors(space, corpus)
    advance = progress_task(progress, "session sequences (SQL)", 1)
    sequences = read_sequences(engine, until=until, since=options.since, max_len=int(params["max_len"]))
    advance(1)
    split = SplitSequences.of(sequences, holdout_start)
    for what, part in (("training", split.train), ("holdout", split.holdout)):
        if len(part) == 0:
            since, end = (options.since, holdout_start) if what == "training" else (holdout_start, until)
            raise empty_window_error(engine, what, since, end)
        if len(part) < int(params["min_targets"]):
            raise DatasetError(
                f"The session {what} window has {len(part)} targets (need ≥ {params['min_targets']}); "
                "simulate or ingest more days, or change --until / --holdout-days."
            )
    fitted = fit(split.train, corpus, vectors, params, options.seed, progress)
    metrics = holdout_metrics(engine, split.holdout, corpus, vectors, fitted, space, progress)
    if progress is not None:
        progress.console.print(metric_table(metrics))
    sets = training_sets(split, space, options.since, holdout_start, until)

    def write_files(folder: Path) -> None:
        fitted.export(folder, split.holdout, corpus, vectors)

    def score_current(current: Artifact) -> dict[str, float]:
        # Another two-tower means another vector space: the current session model is unusable, not better.
        same_space = current.manifest.params.get("two_tower_version") == space.version
        return dict(current.manifest.metrics) if same_space else {}

    record = {**params, "two_tower_version": space.version, "embedding_dim": space.dim, "corpus": len(corpus)}
    return save_artifact(
        runtime,
        model=MODEL,
        write_files=write_files,
        sets=sets,
        feature_service=None,
        features=list(FEATURES),
        metrics=metrics,
        primary_metric="recall_at_300",
        options=options,
        params=record,
        score_current=score_current,
    )


@dataclass(frozen=True)
class SplitSequences:
    train: Sequences
    holdout: Sequences

    @classmethod
    def of(cls, sequences: Sequences, holdout_start: datetime) -> SplitSequences:
        """Targets with target_ts ≤ holdout_start train (their prefixes are earlier still); the rest test."""
        is_holdout = (sequences.targets["target_ts"] > pd.Timestamp(holdout_start)).to_numpy(bool)
        return cls(sequences.subset(~is_holdout), sequences.subset(is_holdout))


def training_sets(
    split: SplitSequences, space: VideoSpace, since: datetime | None, holdout_start: datetime, until: datetime
) -> TrainingSets:
    """The manifest's view of the data: one row per target; the task names the video space, so a session
    model trained against another two-tower is never compared on the same holdout id."""
    columns = ["user_id", "video_id", "session_id", "target_ts"]
    return TrainingSets(
        task=f"session@{space.version}",
        train=split.train.targets[columns],
        holdout=split.holdout.targets[columns],
        features=list(FEATURES),
        labels=("next_engaged_video",),
        since=since,
        holdout_start=holdout_start,
        until=until,
    )


def aligned_vectors(space: VideoSpace, corpus: Corpus) -> np.ndarray:
    """The space's vectors in corpus row order; every corpus video must have one."""
    ids = np.asarray(space.video_ids, dtype=np.int64)
    vectors = np.asarray(space.vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise ValueError(f"video space {space.version}: {len(ids)} ids but vectors of shape {vectors.shape}.")
    position = pd.Series(np.arange(len(ids)), index=ids)
    missing = np.setdiff1d(corpus.video_id, ids)
    if len(missing):
        raise DatasetError(
            f"{len(missing)} videos of the catalogue have no vector in video space {space.version} "
            f"(e.g. {missing[:5].tolist()}); re-embed the catalogue with the two-tower video tower."
        )
    return vectors[position.loc[corpus.video_id].to_numpy()]


# the model -------------------------------------------------------------------------------------------------


K_STEP = len(STEP_FEATURES)


def step_inputs(embeddings: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """[embedding ‖ bounded step features]; raw features → log dwell, clipped fraction, flags, log age."""
    dwell = torch.log1p(steps[..., 0].clamp(min=0.0) / 1000.0) / 3.0
    fraction = steps[..., 1].clamp(0.0, 3.0)
    age = torch.log1p(steps[..., 4].clamp(min=0.0)) / 8.0
    x = torch.stack([dwell, fraction, steps[..., 2], steps[..., 3], age], dim=-1)
    return torch.nan_to_num(torch.cat([embeddings, x], dim=-1))  # padding (and any NaN) → 0


def readout(
    h: torch.Tensor, embeddings: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The state and the embedding at each row's newest step (index lengths − 1)."""
    rows = torch.arange(h.size(0))
    last = (lengths - 1).clamp(min=0)
    return h[rows, last], torch.nan_to_num(embeddings[rows, last])


class GRUSessionEncoder(nn.Module):
    """Steps → GRU → [state at the newest step ‖ newest embedding] → linear → unit query."""

    def __init__(self, dim: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.step = nn.Linear(dim + K_STEP, hidden)
        self.gru = nn.GRU(
            hidden, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden + dim, dim)

    def forward(self, embeddings: torch.Tensor, steps: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.step(step_inputs(embeddings, steps)))
        h, _ = self.gru(x)  # causal: padding after a row's newest step never reaches its state
        state, newest = readout(h, embeddings, lengths)
        return nn.functional.normalize(self.out(torch.cat([self.drop(state), newest], dim=-1)), dim=-1)


class TransformerSessionEncoder(nn.Module):
    """Steps + position (0 = newest) → pre-norm transformer, padding masked → read out as the GRU does."""

    def __init__(self, dim: int, hidden: int, layers: int, heads: int, dropout: float, max_len: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.step = nn.Linear(dim + K_STEP, hidden)
        self.position = nn.Embedding(max_len, hidden)
        layer = nn.TransformerEncoderLayer(
            hidden, heads, dim_feedforward=2 * hidden, dropout=dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden + dim, dim)

    def forward(self, embeddings: torch.Tensor, steps: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        slots = torch.arange(embeddings.size(1))[None, :]
        distance = (lengths[:, None] - 1 - slots).clamp(0, self.max_len - 1)
        x = self.step(step_inputs(embeddings, steps)) + self.position(distance)
        h = self.encoder(x, src_key_padding_mask=slots >= lengths[:, None])
        state, newest = readout(h, embeddings, lengths)
        return nn.functional.normalize(self.out(torch.cat([self.drop(state), newest], dim=-1)), dim=-1)


def build_module(dim: int, params: dict[str, Any]) -> nn.Module:
    """The scriptable module for params["encoder"] (its contract: serving/session_encoder.py)."""
    hidden, layers, dropout = int(params["hidden"]), int(params["layers"]), float(params["dropout"])
    if params["encoder"] == "transformer":
        return TransformerSessionEncoder(
            dim, hidden, layers, int(params["heads"]), dropout, int(params["max_len"])
        )
    return GRUSessionEncoder(dim, hidden, layers, dropout)


@dataclass
class Fitted:
    """The trained module (eager) and what it needs to embed prefixes."""

    module: Any
    params: dict[str, Any]

    def encode(
        self, sequences: Sequences, corpus: Corpus, vectors: np.ndarray, batch: int = 1024
    ) -> np.ndarray:
        """float32 [T, d] queries for the sequences (eval mode, no gradient)."""
        self.module.eval()
        parts = []
        with torch.inference_mode():
            for s in range(0, len(sequences), batch):
                e, x, n = model_inputs(sequences, corpus, vectors, slice(s, s + batch))
                parts.append(
                    self.module(torch.from_numpy(e), torch.from_numpy(x), torch.from_numpy(n)).numpy()
                )
        return np.concatenate(parts) if parts else np.zeros((0, vectors.shape[1]), np.float32)

    def export(self, folder: Path, sample_from: Sequences, corpus: Corpus, vectors: np.ndarray) -> None:
        """TorchScript module plus a reference sample (inputs and the eager module's outputs)."""
        self.module.eval()
        scripted = torch.jit.script(self.module)
        scripted.save(str(folder / MODULE_FILE))
        sample = sample_from.subset(np.arange(len(sample_from)) < 64)
        e, x, n = model_inputs(sample, corpus, vectors, slice(0, len(sample)))
        np.savez(
            folder / REFERENCE_FILE,
            embeddings=e,
            steps=x,
            lengths=n,
            queries=self.encode(sample, corpus, vectors),
        )


def model_inputs(
    sequences: Sequences, corpus: Corpus, vectors: np.ndarray, rows: slice
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """embeddings float32 [b, L, d] (0 on padding), steps float32 [b, L, k], lengths int64 [b]."""
    ids = sequences.step_video_id[rows]
    lengths = sequences.lengths[rows]
    width = int(lengths.max()) if len(lengths) else 1
    ids = ids[:, :width]
    valid = ids >= 0
    index = np.zeros(ids.shape, np.int64)
    index[valid] = corpus.rows(ids[valid])
    embeddings = vectors[index] * valid[..., None]
    return embeddings.astype(np.float32), sequences.steps[rows, :width], lengths.astype(np.int64)


def fit(
    train: Sequences,
    corpus: Corpus,
    vectors: np.ndarray,
    params: dict[str, Any],
    seed: int,
    progress: Any = None,
) -> Fitted:
    """Full-softmax training against the frozen video vectors."""
    torch.set_num_threads(int(params["threads"]))
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    module = build_module(vectors.shape[1], params)
    corpus_t = torch.from_numpy(vectors)
    targets = torch.from_numpy(corpus.rows(train.targets["video_id"].to_numpy(np.int64)))
    optimizer = torch.optim.AdamW(
        module.parameters(), lr=float(params["learning_rate"]), weight_decay=float(params["weight_decay"])
    )
    batch, epochs = int(params["batch_size"]), int(params["epochs"])
    steps = -(-len(train) // batch)
    advance = progress_task(progress, f"fit session ({params['encoder']})", epochs * steps)
    temperature = float(params["temperature"])
    for _ in range(epochs):
        module.train()
        order = rng.permutation(len(train))
        for s in range(0, len(train), batch):
            pick = np.sort(order[s : s + batch])
            part = train.subset(np.isin(np.arange(len(train)), pick))
            e, x, n = model_inputs(part, corpus, vectors, slice(0, len(part)))
            query = module(torch.from_numpy(e), torch.from_numpy(x), torch.from_numpy(n))
            logits = query @ corpus_t.T / temperature
            loss = torch.nn.functional.cross_entropy(logits, targets[torch.from_numpy(pick)])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            advance(1)
    module.eval()
    return Fitted(module, params)


# metrics ---------------------------------------------------------------------------------------------------


def seen_before(engine: Engine, holdout: Sequences, corpus: Corpus) -> list[np.ndarray]:
    """Per holdout target, the corpus rows shown to its user before its cut (serving never retrieves them)."""
    users = holdout.targets["user_id"].to_numpy(np.int64)
    cut_s = _seconds(holdout.targets["cut"])
    with engine.connect() as conn:
        shown = pd.DataFrame(
            conn.execute(
                sa.text(
                    "SELECT user_id, video_id, extract(epoch FROM ts)::float8 FROM events "
                    "WHERE event_type = 'impression' AND user_id = ANY(:users) AND ts < to_timestamp(:last)"
                ),
                {"users": np.unique(users).tolist(), "last": float(cut_s.max()) if len(cut_s) else 0.0},
            ).all(),
            columns=["user_id", "video_id", "ts"],
        )
    by_user = {
        u: (g["ts"].to_numpy(), corpus.rows(g["video_id"].to_numpy(np.int64)))
        for u, g in shown.groupby("user_id")
    }
    empty = (np.zeros(0), np.zeros(0, np.int64))
    return [
        np.unique(rows[ts < c])
        for (ts, rows), c in ((by_user.get(u, empty), c) for u, c in zip(users, cut_s, strict=True))
    ]


def target_ranks(
    queries: np.ndarray,
    vectors: np.ndarray,
    corpus: Corpus,
    targets: np.ndarray,
    cut_s: np.ndarray,
    seen: list[np.ndarray],
    batch: int = 512,
) -> np.ndarray:
    """0-based rank of each target among videos uploaded by its cut and not seen (ties count against it)."""
    ranks = np.zeros(len(queries), np.int64)
    for s in range(0, len(queries), batch):
        scores = queries[s : s + batch].astype(np.float64) @ vectors.T.astype(np.float64)
        allowed = corpus.uploaded_s[None, :] <= cut_s[s : s + batch, None]
        for i, rows in enumerate(seen[s : s + batch]):
            allowed[i, rows] = False
        mine = scores[np.arange(len(scores)), targets[s : s + batch]]
        ranks[s : s + batch] = ((scores >= mine[:, None]) & allowed).sum(axis=1) - 1
    return ranks


def holdout_metrics(
    engine: Engine,
    holdout: Sequences,
    corpus: Corpus,
    vectors: np.ndarray,
    fitted: Fitted,
    space: VideoSpace,
    progress: Any = None,
) -> dict[str, float]:
    """recall@100/@300 of the session encoder and of the baseline queries on the same holdout targets."""
    advance = progress_task(progress, "holdout recall", 3)
    targets = corpus.rows(holdout.targets["video_id"].to_numpy(np.int64))
    cut_s = _seconds(holdout.targets["cut"])
    seen = seen_before(engine, holdout, corpus)
    advance(1)
    e, _x, n = model_inputs(holdout, corpus, vectors, slice(0, len(holdout)))
    queries = {
        "": fitted.encode(holdout, corpus, vectors),
        "last_item_": e[np.arange(len(e)), n - 1],
        "prefix_mean_": _normalise(e.sum(axis=1) / n[:, None]),
    }
    if space.user_queries is not None:
        at = (holdout.targets["cut"] - pd.Timedelta(microseconds=1)).to_numpy()
        queries["long_term_"] = np.asarray(
            space.user_queries(holdout.targets["user_id"].to_numpy(np.int64), at), np.float32
        )
    advance(1)
    metrics: dict[str, float] = {"holdout_targets": float(len(holdout))}
    for prefix, q in queries.items():
        ranks = target_ranks(q, vectors, corpus, targets, cut_s, seen)
        for k in KS:
            metrics[f"{prefix}recall_at_{k}"] = round(float(np.mean(ranks < k)), 6)
    for baseline in ("long_term_", "last_item_"):
        if metrics.get(f"{baseline}recall_at_300"):
            metrics[f"recall_at_300_vs_{baseline.rstrip('_')}"] = round(
                metrics["recall_at_300"] / metrics[f"{baseline}recall_at_300"], 4
            )
    advance(1)
    return metrics


def metric_table(metrics: dict[str, float]) -> Any:
    """A rich table: the session encoder against its baselines on the same holdout targets."""
    from rich.table import Table

    table = Table(
        title=f"session holdout next-item recall ({int(metrics.get('holdout_targets', 0))} targets)"
    )
    for column in ("query", "recall@100", "recall@300"):
        table.add_column(column, justify="right")
    rows = (
        ("session encoder", ""),
        ("long-term two-tower user tower", "long_term_"),
        ("last watched video", "last_item_"),
        ("mean of prefix", "prefix_mean_"),
    )
    for label, prefix in rows:
        if f"{prefix}recall_at_300" in metrics:
            table.add_row(
                label, f"{metrics[f'{prefix}recall_at_100']:.4f}", f"{metrics[f'{prefix}recall_at_300']:.4f}"
            )
    return table


# helpers ---------------------------------------------------------------------------------------------------


def _params(options: TrainOptions) -> dict[str, Any]:
    unknown = sorted(set(options.params) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"Unknown session params {unknown}; known: {', '.join(DEFAULTS)}.")
    params = {**DEFAULTS, **options.params}
    if options.epochs is not None:
        params["epochs"] = options.epochs
    if params["encoder"] not in ("gru", "transformer"):
        raise ConfigError(
            f"session param encoder must be 'gru' or 'transformer' (got {params['encoder']!r})."
        )
    for name in ("hidden", "layers", "heads", "epochs", "batch_size", "threads"):
        if int(params[name]) < 1:
            raise ConfigError(f"session param {name} must be a positive integer (got {params[name]}).")
    if not 1 <= int(params["max_len"]) <= 20:
        raise ConfigError(f"session param max_len must be in [1, 20] (got {params['max_len']}).")
    if params["temperature"] <= 0 or not 0 <= params["dropout"] < 1:
        raise ConfigError("session params: temperature must be > 0 and dropout in [0, 1).")
    if params["encoder"] == "transformer" and int(params["hidden"]) % int(params["heads"]):
        raise ConfigError(f"hidden ({params['hidden']}) must be a multiple of heads ({params['heads']}).")
    return params


def _seconds(times: pd.Series) -> np.ndarray:
    return (
        (pd.to_datetime(times, utc=True) - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(np.float64)
    )


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)
