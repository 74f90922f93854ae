"""What the re-ranker and the first stage share: feature lists, matrices, metrics, candidate slates.

Metrics are measured on holdout rows (impressions). A request holds ~8 impressions, so NDCG@20 per request
is NDCG over the whole request; requests without any engagement are skipped (their ideal DCG is 0).
The gain of an impression is its *realised utility*: the value model applied to its labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from foryou.errors import ConfigError
from foryou.runtime import Runtime
from foryou.value_model import HEADS, ValueModel
from pipelines.datasets.build import DatasetError

# The holdout metrics are the evaluation's own (one definition for `foryou train` and `foryou evaluate`).
from pipelines.evaluate.ranking import auc as auc
from pipelines.evaluate.ranking import calibration_ratio as calibration_ratio
from pipelines.evaluate.ranking import expected_calibration_error as expected_calibration_error
from pipelines.train.data import require_columns as require_columns  # the trainers' shared check
from serving.follows import FOLLOWS_CREATOR
from serving.recent import RECENT_SIMILARITY

# Columns of a candidate that come from the user / the request, not from the video: in a slate every
# candidate shares the request's values (see `candidate_slates`).
USER_SIDE_PREFIXES = (
    "user_stats__",
    "request_time__hour_of_day",
    "request_time__is_weekend",
    "user_id",
    "event_timestamp",
)
TWO_TOWER_SCORE = "retrieval__two_tower_score"  # = serving.affinity.TWO_TOWER_SCORE
TWO_TOWER_SCORE_STD = "retrieval__two_tower_score_std"  # = serving.affinity.TWO_TOWER_SCORE_STD
TWO_TOWER_SERVICE = "two_tower_user"
# Inputs computed from the user's history before each row (serving/history.py), in this order when several,
# each switched on by the ranker param of the same name (`recent_similarity`, `follows_creator`).
HISTORY_INPUTS = {RECENT_SIMILARITY: "recent_similarity", FOLLOWS_CREATOR: "follows_creator"}


def history_inputs(params: dict[str, Any]) -> list[str]:
    """The history inputs a ranker's params switch on, in `HISTORY_INPUTS` order."""
    return [name for name, param in HISTORY_INPUTS.items() if params[param]]


def history_for(runtime: Runtime, names: Sequence[str], until: Any) -> Any:
    """Every user's history up to `until` (serving.history.UserHistory) if `names` need it, else None."""
    if not any(name in HISTORY_INPUTS for name in names):
        return None
    from serving.history import read_history

    return read_history(runtime.engine, until)


def service_features(runtime: Runtime, service: str) -> list[str]:
    """Full names `<view>__<feature>` of a registered FeatureService, in the service's order."""
    from foryou import feast_repo

    store = feast_repo.feature_store(runtime.settings, runtime.stores)
    try:
        fs = store.get_feature_service(service)
    except Exception as exc:  # Feast raises its own FeatureServiceNotFoundException
        raise ConfigError(
            f"FeatureService {service!r} is not in the Feast registry ({exc}); run `foryou features apply`."
        ) from exc
    return [f"{p.name_to_use()}__{f.name}" for p in fs.feature_view_projections for f in p.features]


def matrix(frame: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """float32 [rows, features] in the given order, NaN where a feature is missing."""
    return frame[list(features)].to_numpy(dtype=np.float32, na_value=np.nan)


def realised_utility(frame: pd.DataFrame, value_model: ValueModel) -> np.ndarray:
    """The value model applied to the labels of each impression (the gain of NDCG)."""
    return value_model.utility({h: frame[h].to_numpy(np.float64) for h in HEADS})


def engaged(frame: pd.DataFrame) -> np.ndarray:
    """1 when the impression got any positive engagement (long watch, like, share, save, comment, follow)."""
    return (frame[["like", "long_watch", "share", "save", "comment", "follow"]].sum(axis=1) > 0).to_numpy(
        np.float32
    )


def time_split(train: pd.DataFrame, share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Requests starting in the last `share` of the training rows' time span validate; the rest fit."""
    cut = train["event_timestamp"].quantile(1 - share)
    request_start = train.groupby("request_id")["event_timestamp"].transform("min")
    late = (request_start > cut).to_numpy()
    fit, valid = train[~late].reset_index(drop=True), train[late].reset_index(drop=True)
    if fit.empty or valid.empty:
        raise DatasetError(
            f"The training window is too short to split off a validation slice ({len(fit)} fit / "
            f"{len(valid)} validation rows); simulate or ingest more days, or move --until."
        )
    return fit, valid


# two-tower inputs ------------------------------------------------------------------------------------------


def current_two_tower(runtime: Runtime) -> Any:
    """The current two-tower through the serving loader (files re-hashed, feature list checked), or None."""
    from foryou.artifacts import ArtifactStore
    from serving.two_tower import TwoTowerModel

    store = ArtifactStore(runtime.settings.artifacts_dir)
    if store.current_version("two-tower") is None:
        return None
    return TwoTowerModel.load(store, expected_features=service_features(runtime, TWO_TOWER_SERVICE))


def two_tower_user_columns(frame: pd.DataFrame) -> list[str]:
    """The user-side columns the two-tower's user tower may read (`two_tower_user` is user_stats only)."""
    return [c for c in frame.columns if c.startswith("user_stats__")]


def with_two_tower_inputs(
    model: Any, frame: pd.DataFrame, names: Sequence[str], videos: pd.DataFrame, history: Any = None
) -> pd.DataFrame:
    """`frame` plus the named two-tower columns (serving.affinity: what serving and evaluation call);
    `history` (serving.history.UserHistory) is needed for the `HISTORY_INPUTS`."""
    from serving.affinity import frame_affinity_inputs

    names = list(names)
    if not names:
        return frame
    frame = frame.drop(columns=[n for n in names if n in frame.columns])  # always this model's values
    values = frame_affinity_inputs(model, frame, names, videos, history)
    extra = pd.DataFrame(values, columns=names, index=frame.index)
    return pd.concat([frame, extra], axis=1)


class _FittedTwoTower:
    """A fitted (not exported) two-tower behind the serving model's interface, for serving.affinity."""

    def __init__(self, fitted: Any, features: list[str], version: str, reference: Any) -> None:
        self.fitted, self.features, self.version, self.dim = fitted, features, version, fitted.dim
        self.recency = fitted.recency_weight() is not None  # a trailing recency component (serving.recent)
        self.reference = reference  # the current version's reference sample: the same background
        self.rotation: np.ndarray | None = None  # orthogonal map onto another fit's space (`align`)

    def reference_inputs(self) -> Any:
        return self.reference

    def _rotate(self, vectors: np.ndarray) -> np.ndarray:
        if self.rotation is None:
            return vectors
        k = len(self.rotation)  # the unit part; a recency component after it stays as it is
        out = np.array(vectors, dtype=np.float32, copy=True)
        out[:, :k] = vectors[:, :k] @ self.rotation
        return out

    def align(self, target: Any, videos: pd.DataFrame) -> float:
        """Rotate this fit's space onto `target`'s (orthogonal Procrustes on the catalogue's video vectors,
        unit part only; dot products are unchanged). Returns the mean cosine of the aligned video vectors."""
        k = self.dim - 1 if target.artifact.manifest.params.get("recency") else self.dim
        mine = self.fitted.embed_videos(_video_inputs(videos, self.fitted.spec))[:, :k].astype(np.float64)
        theirs = target.embed_videos(videos)[:, :k].astype(np.float64)
        u, _, vt = np.linalg.svd(mine.T @ theirs)
        self.rotation = (u @ vt).astype(np.float32)
        aligned = mine @ self.rotation
        cosine = np.sum(aligned * theirs, axis=1) / np.maximum(
            np.linalg.norm(aligned, axis=1) * np.linalg.norm(theirs, axis=1), 1e-12
        )
        return float(np.mean(cosine))

    def embed_users(self, user_ids: Any, x: Any) -> np.ndarray:
        return self._rotate(
            self.fitted.embed_users(np.asarray(user_ids, np.int64), np.asarray(x, np.float32))
        )

    def embed_videos(self, videos: pd.DataFrame) -> np.ndarray:
        return self._rotate(self.fitted.embed_videos(_video_inputs(videos, self.fitted.spec)))

    def embed_video_inputs(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self._rotate(self.fitted.embed_videos(inputs))


def _video_inputs(videos: pd.DataFrame, spec: Any) -> dict[str, np.ndarray]:
    from serving.two_tower import video_inputs

    return video_inputs(videos, spec)


def out_of_time_rows(
    runtime: Runtime,
    sets: Any,
    current: Any,
    videos: pd.DataFrame,
    days: float,
    progress: Any = None,
    products: bool = False,
    info: dict[str, float] | None = None,
    history: Any = None,
    history_inputs: Sequence[str] = (),
) -> pd.DataFrame:
    """The last `days` of the training rows with an out-of-time `retrieval__two_tower_score_std` (and the
    named `history_inputs` from `history`: the recent similarity in the out-of-time fit's space, the
    follows flag as it is).

    The current two-tower was trained on the whole training window, so its score on training rows is
    in-sample (on the dev world: AUC of engagement 0.84 on training rows vs 0.66 on the holdout). This fits a
    two-tower with the current one's recipe (its manifest params and seed) on the retrieval rows before
    those days only, and scores them with it (serving.affinity): the score a ranker sees in training then
    behaves like the one it sees on new data. Forward-chained stacking: the ranker is served with the
    current two-tower's score (a scalar of the same recipe); vectors of another fit are not comparable,
    so only the score is transferred this way."""
    from pipelines.train import retrieval_features
    from pipelines.train import two_tower as tt
    from pipelines.train.data import load_sets, split
    from serving.affinity import frame_affinity_inputs

    cut = pd.Timestamp(sets.holdout_start) - pd.Timedelta(days=days)
    late = sets.train[sets.train["event_timestamp"] > cut].reset_index(drop=True)
    holdout_days = (sets.until - sets.holdout_start).total_seconds() / 86_400
    retrieval = load_sets(runtime, "retrieval", until=sets.until, since=sets.since, holdout_days=holdout_days)
    early = split(
        retrieval.train,
        "retrieval",
        since=sets.since,
        holdout_start=cut.to_pydatetime(),
        until=sets.holdout_start,
        min_rows=100,
    )
    manifest = current.artifact.manifest
    params = {k: v for k, v in manifest.params.items() if k in tt.DEFAULTS}
    params = {**tt.DEFAULTS, **params}
    pool = None
    if params["hard_negatives"]:
        shown = sets.train[sets.train["event_timestamp"] <= cut]
        pool = retrieval_features.shown_not_engaged(shown, params["hard_negative_max_position"])
    fitted = tt.fit(early, videos, pool, params, manifest.seed, progress)
    model = _FittedTwoTower(
        fitted, list(current.features), f"out-of-time fit of {current.version}", current.reference_inputs()
    )
    names = [TWO_TOWER_SCORE_STD]
    if products:  # the element-wise product only means something in the current fit's space: align first
        from serving.affinity import product_names

        cosine = model.align(current, videos)
        if info is not None:
            info["two_tower_alignment_cosine"] = round(cosine, 6)
        names += product_names(current.dim)
    names += list(history_inputs)
    values = frame_affinity_inputs(model, late, names, videos, history)
    extra = pd.DataFrame(values, columns=names, index=late.index)
    return pd.concat([late.drop(columns=names, errors="ignore"), extra], axis=1)


def with_ranker_inputs(
    runtime: Runtime,
    sets: Any,
    two_tower: Any,
    videos: pd.DataFrame,
    names: Sequence[str],
    history: Any,
    *,
    out_of_time_days: float | None,
    progress: Any = None,
    info: dict[str, float] | None = None,
) -> Any:
    """`sets` with the named extra inputs added, as both rankers train on them.

    Training rows: with `out_of_time_days`, the last days of the window scored by an out-of-time fit
    (`out_of_time_rows`: its standardised score, products if named, history inputs), and any named input that
    fit does not give (a teacher's raw score) from the current two-tower; without it, every training row
    from the current two-tower. Holdout rows: always the current two-tower."""
    names = list(names)
    if out_of_time_days is None:
        train = with_two_tower_inputs(two_tower, sets.train, names, videos, history)
    else:
        from serving.affinity import PRODUCT_PREFIX

        train = out_of_time_rows(
            runtime,
            sets,
            two_tower,
            videos,
            out_of_time_days,
            progress,
            products=any(n.startswith(PRODUCT_PREFIX) for n in names),
            info=info,
            history=history,
            history_inputs=[n for n in names if n in HISTORY_INPUTS],
        )
        rest = [n for n in names if n not in train.columns]
        if rest:
            train = with_two_tower_inputs(two_tower, train, rest, videos, history)
    holdout = with_two_tower_inputs(two_tower, sets.holdout, names, videos, history)
    return replace(sets, train=train, holdout=holdout)


def two_tower_score_metrics(
    sets: Any, fit_rows: pd.DataFrame, valid_rows: pd.DataFrame, value_model: ValueModel
) -> dict[str, float]:
    """The two-tower score alone as a ranker, on fit / validation / holdout rows: AUC of engagement and
    NDCG@20 per request. The two-tower was trained on the training window, so fit and validation rows are
    in-sample for it; the gap to the holdout measures how optimistic its score is on training rows."""
    out: dict[str, float] = {}
    column = TWO_TOWER_SCORE if TWO_TOWER_SCORE in sets.holdout.columns else TWO_TOWER_SCORE_STD
    for name, frame in (("fit", fit_rows), ("valid", valid_rows), ("holdout", sets.holdout)):
        score = np.nan_to_num(frame[column].to_numpy(np.float64), nan=-1e9)
        put(out, f"two_tower_score_auc_engaged_{name}", auc(engaged(frame), score))
        put(
            out,
            f"two_tower_score_ndcg20_{name}",
            ndcg_at_k(frame["request_id"].to_numpy(), score, realised_utility(frame, value_model)),
        )
    return out


# metrics ---------------------------------------------------------------------------------------------------


def ndcg_at_k(groups: np.ndarray, scores: np.ndarray, gains: np.ndarray, k: int = 20) -> float | None:
    """Mean NDCG@k over groups with a positive ideal DCG; ties in score keep row order (deterministic)."""
    codes = pd.factorize(np.asarray(groups))[0]
    gains = np.asarray(gains, dtype=np.float64)
    idx = np.arange(len(codes))

    def dcg(key: np.ndarray) -> np.ndarray:
        order = np.lexsort((idx, -np.asarray(key, dtype=np.float64), codes))
        sorted_codes = codes[order]
        rank = pd.Series(sorted_codes).groupby(sorted_codes).cumcount().to_numpy()
        discount = np.where(rank < k, 1.0 / np.log2(rank + 2.0), 0.0)
        return np.bincount(sorted_codes, weights=gains[order] * discount, minlength=codes.max() + 1)

    if not len(codes):
        return None
    ideal = dcg(gains)
    valid = ideal > 0
    if not valid.any():
        return None
    return float(np.mean(dcg(scores)[valid] / ideal[valid]))


def put(metrics: dict[str, float], name: str, value: float | None) -> None:
    """Record a metric when it is defined (a manifest holds finite numbers only)."""
    if value is not None and np.isfinite(value):
        metrics[name] = round(float(value), 6)


# candidate slates ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slates:
    """`frame` holds `n_candidates` rows per sampled request; `slate` numbers the request of each row."""

    frame: pd.DataFrame
    slate: np.ndarray
    n_candidates: int


def candidate_slates(
    holdout: pd.DataFrame, *, n_requests: int, n_candidates: int, seed: int, features: Sequence[str]
) -> Slates:
    """Serving-like candidate sets built from holdout impressions, for measuring first-stage recall.

    A request's real impressions are only ~8, so a slate is: the request's user and request-time features
    (from its first impression) combined with the video-side features of the `n_candidates` distinct videos
    impressed closest in time to the request (their features as of those impressions, minutes apart).
    """
    if holdout.empty:
        raise DatasetError("Cannot build candidate slates from an empty holdout.")
    rows = holdout.sort_values("event_timestamp", kind="stable").reset_index(drop=True)
    requests = rows.drop_duplicates("request_id")
    rng = np.random.default_rng(seed)
    picked = requests.iloc[np.sort(rng.choice(len(requests), min(n_requests, len(requests)), replace=False))]
    user_cols = [c for c in features if c.startswith(USER_SIDE_PREFIXES)]
    item_cols = [c for c in features if c not in user_cols]
    times = rows["event_timestamp"].astype("int64").to_numpy()
    videos = rows["video_id"].to_numpy()
    n = min(n_candidates, rows["video_id"].nunique())
    parts, slate_ids = [], []
    for number, (pos, request) in enumerate(picked.iterrows()):
        # Widen a window around the request until it holds n distinct videos; nearest impressions first.
        width = n
        while True:
            lo, hi = max(0, pos - width), min(len(rows), pos + width + 1)
            window = np.arange(lo, hi)
            window = window[np.argsort(np.abs(times[window] - times[pos]), kind="stable")]
            _, first = np.unique(videos[window], return_index=True)
            if len(first) >= n or (lo == 0 and hi == len(rows)):
                break
            width *= 2
        chosen = window[np.sort(first)[:n]]
        part = rows.iloc[chosen][item_cols].reset_index(drop=True)
        for c in user_cols:
            part[c] = request[c]
        parts.append(part)
        slate_ids.append(np.full(len(part), number))
    frame = pd.concat(parts, ignore_index=True)[list(features)]
    return Slates(frame, np.concatenate(slate_ids), n)


def agreement(slate: np.ndarray, teacher: np.ndarray, student: np.ndarray, k: int, m: int) -> float:
    """Mean over slates of |teacher's top k ∩ student's top m| / k (ties: row order)."""
    shares = []
    for s in np.unique(slate):
        rows = np.flatnonzero(slate == s)
        top_t = rows[np.argsort(-teacher[rows], kind="stable")[:k]]
        top_s = rows[np.argsort(-student[rows], kind="stable")[:m]]
        shares.append(len(np.intersect1d(top_t, top_s)) / len(top_t))
    return float(np.mean(shares))


# progress --------------------------------------------------------------------------------------------------
