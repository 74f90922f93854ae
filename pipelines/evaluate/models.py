"""The trained models as evaluation sources and stages, loaded through serving's own loaders.

Each model is loaded as serving would load it (`current`, every file re-hashed, the feature list checked
against the registered FeatureService). A model that has not been trained yet is left out with a note.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from foryou.artifacts import ArtifactStore
from foryou.runtime import Runtime
from pipelines.evaluate import ranking as rk
from pipelines.evaluate import sources as src
from pipelines.evaluate.retrieval import Corpus, Queries, Source


def _store(runtime: Runtime) -> ArtifactStore:
    return ArtifactStore(runtime.settings.artifacts_dir)


def _current(store: ArtifactStore, model: str, notes: list[str]) -> bool:
    if store.current_version(model) is None:
        notes.append(f"{model}: no current version (run `foryou train {model}`)")
        return False
    return True


def corpus_video_vectors(runtime: Runtime, model, corpus: Corpus) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The video tower's vectors of every corpus video, in corpus row order."""
    from serving.two_tower import read_videos

    videos = read_videos(runtime.engine)
    vectors = model.embed_videos(videos)
    order = corpus.rows(videos["video_id"].to_numpy(dtype=np.int64))
    aligned = np.zeros((len(corpus), vectors.shape[1]), dtype=np.float32)
    aligned[order] = vectors
    return aligned


def model_sources(runtime: Runtime, queries: Queries, corpus: Corpus, notes: list[str]) -> dict[str, Source]:
    """`two-tower`: the user tower at the query time, exact dot product over the video tower's vectors;
    `session`: the session encoder over the query's session so far (pipelines/evaluate/session_source.py),
    same vectors — when a current session model trained against the current two-tower exists."""
    store = _store(runtime)
    out: dict[str, Source] = {}
    if not _current(store, "two-tower", notes):
        return out
    from pipelines.train.ranking_features import service_features
    from serving.two_tower import FEATURE_SERVICE, TwoTowerModel

    model = TwoTowerModel.load(store, expected_features=service_features(runtime, FEATURE_SERVICE))
    videos = corpus_video_vectors(runtime, model, corpus)
    users = model.embed_users(
        queries.user_id, queries.features[list(model.features)].to_numpy(dtype=np.float32, na_value=np.nan)
    )
    out["two-tower"] = src.scored(users, videos)
    if _current(store, "session", notes):
        from foryou.artifacts import ArtifactError
        from pipelines.evaluate.session_source import session_source
        from serving.session_encoder import SessionEncoder

        try:
            encoder = SessionEncoder.load(store, model.version)
        except ArtifactError as exc:
            notes.append(f"session source left out: {exc}")
        else:
            out["session"] = session_source(runtime.engine, encoder, videos, notes)
    return out


def ranking_stages(
    runtime: Runtime,
    holdout: pd.DataFrame,
    notes: list[str],
    stages: tuple[str, ...] = ("re-ranker", "first stage"),
) -> dict[str, object]:
    """Scores of `first stage` and `re-ranker` on the holdout rows, and the re-ranker's per-head table.

    A ranker that reads two-tower inputs (manifest params `extra_inputs`) is loaded bound to the current
    two-tower (refused if it was trained against another version), and its extra inputs are computed for
    the holdout rows by serving.affinity — the function training and serving call. `stages` limits the work
    (the two-tower trainer scores its hard-negative candidates with the re-ranker only)."""
    store = _store(runtime)
    out: dict[str, object] = {}
    from pipelines.train.ranking_features import service_features

    two_tower = None
    extra: dict[str, np.ndarray] = {}  # two-tower input name → holdout column (computed once)
    videos: list[pd.DataFrame] = []  # the catalogue, read once when a ranker needs two-tower inputs
    if store.current_version("two-tower") is not None:
        from serving.two_tower import FEATURE_SERVICE, TwoTowerModel

        two_tower = TwoTowerModel.load(store, expected_features=service_features(runtime, FEATURE_SERVICE))
    version = two_tower.version if two_tower is not None else None

    def inputs(scorer) -> np.ndarray:  # type: ignore[no-untyped-def]
        """The holdout matrix the scorer reads: the service's features, then its two-tower inputs."""
        x = holdout.reindex(columns=scorer.features).to_numpy(dtype=np.float32, na_value=np.nan)
        missing = [n for n in scorer.extra_inputs if n not in extra]
        if missing:
            from pipelines.train.ranking_features import history_for
            from serving.affinity import frame_affinity_inputs
            from serving.two_tower import read_videos

            if not videos:
                videos.append(read_videos(runtime.engine))
            history = history_for(runtime, missing, holdout["event_timestamp"].max().to_pydatetime())
            values = frame_affinity_inputs(two_tower, holdout, missing, videos[0], history)
            extra.update({n: values[:, j] for j, n in enumerate(missing)})
        if not scorer.extra_inputs:
            return x
        return np.hstack([x, np.column_stack([extra[n] for n in scorer.extra_inputs])]).astype(np.float32)

    if "re-ranker" in stages and _current(store, "reranker", notes):
        from serving.rankers import RerankerScorer, utility

        scorer = RerankerScorer.load(
            store, expected_features=service_features(runtime, "reranker"), two_tower_version=version
        )
        x = inputs(scorer)
        heads = {}
        for start in range(0, len(x), 8192):
            for name, values in scorer.heads(x[start : start + 8192]).items():
                heads.setdefault(name, []).append(values)
        heads = {name: np.concatenate(parts) for name, parts in heads.items()}
        out["re-ranker"] = utility(heads, scorer.weights)
        out["__heads__"] = head_table(holdout, heads)
        if scorer.extra_inputs:
            notes.append(f"re-ranker reads {len(scorer.extra_inputs)} two-tower inputs (two-tower {version})")
    if "first stage" in stages and _current(store, "first-stage", notes):
        from serving.rankers import FirstStageScorer

        first = FirstStageScorer.load(
            store, expected_features=service_features(runtime, "first_stage"), two_tower_version=version
        )
        out["first stage"] = first.score(inputs(first))
        if first.extra_inputs:
            notes.append(f"first stage reads {first.extra_inputs} (two-tower {version})")
    return out


def head_table(holdout: pd.DataFrame, heads: dict[str, np.ndarray]) -> pd.DataFrame:
    """AUC and calibration of every binary head; MAE of the watch-time head."""
    rows, curves = {}, {}
    for head, predicted in heads.items():
        labels = holdout[head].to_numpy(dtype=np.float64)
        if head == "watch_time_s":
            rows[head] = {
                "auc": np.nan,
                "ece": np.nan,
                "calibration_ratio": predicted.mean() / labels.mean(),
                "positive_rate": np.nan,
                "mae_s": float(np.abs(predicted - labels).mean()),
            }
            continue
        cal = rk.calibration(labels, predicted)
        rows[head] = {
            "auc": rk.auc(labels, predicted),
            **cal,
            "positive_rate": labels.mean(),
            "mae_s": np.nan,
        }
        curves[head] = rk.reliability(labels, predicted)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.attrs["__curves__"] = curves
    return table
