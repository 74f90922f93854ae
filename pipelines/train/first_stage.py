"""First-stage ranker (XGBoost) over the cheap `first_stage` features, distilled from the re-ranker.

    foryou train first-stage          # → artifacts/first-stage/<version>/model.json

It scores ~300 retrieved candidates per request so the re-ranker sees the best ~50. Its job is therefore to
keep the re-ranker's favourites: the main figure besides NDCG is *agreement*, the share of the re-ranker's
top 20 that are inside the first stage's top 100 of the same candidates.

Targets (`objective` param; measured on the dev world in docs/models-ranking.md):
  label     binary:logistic on engagement (any of long watch, like, share, save, comment, follow)
  utility   squared error on the realised utility (the value model applied to the labels)
  blend     squared error on (1 − α)·realised utility + α·re-ranker utility (α = `blend`)
  distill   squared error on the re-ranker utility alone
  pairwise  rank:pairwise within requests, relevance = the re-ranker's order in the request
  auto      (default) `distill` when a current re-ranker artifact exists, else `utility`
The re-ranker (the current artifact, verified against the `reranker` FeatureService) scores the training
rows through the serving loader; its version is recorded in the manifest.

Features: the FeatureService in order (the manifest's feature list, the contract serving is checked against),
then the extra input `retrieval__two_tower_score(_std)` = user tower · video tower of the current two-tower
(serving/affinity.py, the same function evaluation and serving call; standardised and, for the training
rows, taken from an out-of-time two-tower fit by default — see ranking_features.out_of_time_rows), listed
in the manifest params `extra_inputs` with the two-tower version (`two_tower_version`); the serving loader
refuses another two-tower.
`video_stats__creator_id` (an identifier) and `video_stats__uploaded_at_epoch_s` (absolute time) are blanked
to NaN in training, so no tree splits on them, while the input stays the service's full list.

Agreement is measured on candidate slates, because a request's real impressions are only ~8: for a seeded
sample of holdout requests, the request's user and request-time features with the video-side features of
the 300 distinct videos impressed closest in time (ranking_features.candidate_slates).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from foryou.artifacts import ArtifactError
from foryou.errors import ConfigError
from foryou.runtime import Runtime
from foryou.value_model import HEADS, ValueModel, load_value_model
from pipelines.train import ranking_features as rf
from pipelines.train.common import (
    TrainOptions,
    TrainResult,
    artifact_store,
    progress_task,
    save_artifact,
    seed_everything,
)
from pipelines.train.data import TrainingSets, load_sets

MODEL = "first-stage"
FEATURE_SERVICE = "first_stage"
TEACHER_SERVICE = "reranker"
MODEL_FILE = "model.json"
BLANKED = ("video_stats__creator_id", "video_stats__uploaded_at_epoch_s")
POPULARITY = "video_stats__popularity_pct"
OBJECTIVES = ("auto", "label", "utility", "blend", "distill", "pairwise")
DEFAULTS: dict[str, Any] = {
    "objective": "auto",
    "blend": 0.5,
    "rounds": 400,
    "early_stopping_rounds": 30,
    "max_depth": 6,
    "eta": 0.1,
    "min_child_weight": 5.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "validation_share": 0.1,
    "threads": 2,
    "slate_requests": 300,
    "slate_size": 300,
    "top_teacher": 20,
    "top_student": 100,
    "two_tower": True,  # add the current two-tower's score as an extra input (when a two-tower exists)
    # Training rows' score: "in_sample" (the current two-tower, trained on them) or "out_of_time" (the last
    # `out_of_time_days` of training only, scored by a two-tower of the same recipe fitted on the days
    # before; ranking_features.out_of_time_rows).
    "two_tower_rows": "out_of_time",
    "out_of_time_days": 2.0,
    # Short-term interest (serving/recent.py) as the student's own input too. Off: the first stage is the
    # cheap stage on aggregates; the user's recent videos are the re-ranker's (docs/models-ranking.md).
    "recent_similarity": False,
    "follows_creator": False,  # likewise: the re-ranker's user × creator input (serving/follows.py)
}


def train(runtime: Runtime, options: TrainOptions, progress: Any = None) -> TrainResult:
    """Fit on the first_stage features (+ the two-tower score if present), distilling a current re-ranker."""
    params = _params(options)
    value_model = load_value_model()
    features = rf.service_features(runtime, FEATURE_SERVICE)
    sets = load_sets(
        runtime, "ranking", until=options.until, since=options.since, holdout_days=options.holdout_days
    )
    two_tower = rf.current_two_tower(runtime)
    teacher = _teacher(runtime, two_tower.version if two_tower is not None else None)
    out_of_time = params["two_tower_rows"] == "out_of_time"
    score = rf.TWO_TOWER_SCORE_STD if out_of_time else rf.TWO_TOWER_SCORE  # see serving/affinity.py
    own = [score] if two_tower is not None and params["two_tower"] else []
    if own:
        own += rf.history_inputs(params)
    needed = list(dict.fromkeys([*own, *(teacher.extra_inputs if teacher is not None else [])]))
    affinity = None
    if needed:
        from serving.two_tower import read_videos

        videos = read_videos(runtime.engine)
        history = rf.history_for(runtime, needed, sets.until)

        def affinity(frame: pd.DataFrame) -> pd.DataFrame:
            return rf.with_two_tower_inputs(two_tower, frame, needed, videos, history)

        # Out of time as the re-ranker was trained: the teacher's product (if it reads one) and history
        # inputs from the same out-of-time fit.
        days = params["out_of_time_days"] if own and out_of_time else None
        sets = rf.with_ranker_inputs(
            runtime, sets, two_tower, videos, needed, history, out_of_time_days=days, progress=progress
        )
    return fit_and_save(
        runtime,
        sets,
        features,
        teacher,
        value_model,
        options,
        params,
        progress,
        extra_inputs=own,
        two_tower_version=two_tower.version if own else None,
        affinity=affinity,
    )


def fit_and_save(
    runtime: Runtime,
    sets: TrainingSets,
    service_features: list[str],
    teacher: Any,
    value_model: ValueModel,
    options: TrainOptions,
    params: dict[str, Any],
    progress: Any = None,
    *,
    extra_inputs: list[str] | None = None,
    two_tower_version: str | None = None,
    affinity: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> TrainResult:
    """Everything after loading: targets, fit with early stopping, holdout metrics, slates, artifact.

    `service_features` is the FeatureService's list (the manifest's contract); `extra_inputs` are columns of
    the sets appended after them (the two-tower score, computed by `two_tower_version`); `affinity` adds
    the two-tower columns (the student's and the teacher's) to a frame — needed for candidate slates, whose
    user × video pairs are new."""
    import xgboost as xgb

    seed_everything(options.seed)
    extra = list(extra_inputs or [])
    features = [*service_features, *extra]  # the model's input columns
    teacher_inputs = list(teacher.inputs) if teacher is not None else []
    for frame, what in ((sets.train, "ranking (train)"), (sets.holdout, "ranking (holdout)")):
        rf.require_columns(frame, [*features, *teacher_inputs, *HEADS, "request_id"], what)
    objective = params["objective"]
    if objective == "auto":
        objective = "distill" if teacher is not None else "utility"
    if objective in ("blend", "distill", "pairwise") and teacher is None:
        raise ConfigError(
            f"objective {objective!r} distils the re-ranker, but there is no current re-ranker artifact; "
            "run `foryou train reranker` first or use objective 'label' or 'utility'."
        )

    fit_rows, valid_rows = rf.time_split(sets.train, params["validation_share"])
    if objective == "pairwise":  # XGBoost's query groups are runs of consecutive rows
        fit_rows, valid_rows = (f.sort_values("request_id", kind="stable") for f in (fit_rows, valid_rows))
    blank = [j for j, f in enumerate(features) if f in BLANKED]
    x_fit, x_valid = _inputs(fit_rows, features, blank), _inputs(valid_rows, features, blank)
    teacher_fit = teacher_valid = None
    if teacher is not None:
        advance = progress_task(progress, "re-ranker scores (teacher)", 1)
        teacher_fit = teacher.utility_batched(rf.matrix(fit_rows, teacher.inputs))
        teacher_valid = teacher.utility_batched(rf.matrix(valid_rows, teacher.inputs))
        advance(1)
    y_fit = _target(objective, fit_rows, value_model, teacher_fit, params["blend"])
    y_valid = _target(objective, valid_rows, value_model, teacher_valid, params["blend"])

    booster_params: dict[str, Any] = {
        "tree_method": "hist",
        "max_depth": params["max_depth"],
        "eta": params["eta"],
        "min_child_weight": params["min_child_weight"],
        "subsample": params["subsample"],
        "colsample_bytree": params["colsample_bytree"],
        "nthread": params["threads"],
        "seed": options.seed,
        **_objective_params(objective),
    }
    train_matrix = xgb.DMatrix(x_fit, label=y_fit, missing=np.nan, feature_names=features)
    valid_matrix = xgb.DMatrix(x_valid, label=y_valid, missing=np.nan, feature_names=features)
    if objective == "pairwise":
        train_matrix.set_group(_group_sizes(fit_rows))
        valid_matrix.set_group(_group_sizes(valid_rows))
    advance = progress_task(progress, f"fit xgboost ({objective})", params["rounds"])

    class Advance(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            advance(1)
            return False

    booster = xgb.train(
        booster_params,
        train_matrix,
        num_boost_round=params["rounds"],
        evals=[(valid_matrix, "validation")],
        early_stopping_rounds=params["early_stopping_rounds"],
        verbose_eval=False,
        callbacks=[Advance()],
    )
    booster = booster[: booster.best_iteration + 1]  # the export holds the trees it is scored with

    advance = progress_task(progress, "holdout metrics and slates", 1)
    scores = _predict(booster, _inputs(sets.holdout, features, []))
    metrics = holdout_metrics(sets.holdout, scores, value_model)
    params_out = {
        **params,
        "objective_used": objective,
        "trees": booster.num_boosted_rounds(),
        "blanked_features": [features[j] for j in blank],
        "two_tower_score": bool(set(features) & {rf.TWO_TOWER_SCORE, rf.TWO_TOWER_SCORE_STD}),
        "extra_inputs": extra,
        "two_tower_version": two_tower_version,
        "fit_rows": len(fit_rows),
        "validation_rows": len(valid_rows),
        "teacher": teacher.artifact.manifest.version if teacher is not None else None,
        "value_model_weights": value_model.weights,
    }
    if set(extra) & {rf.TWO_TOWER_SCORE, rf.TWO_TOWER_SCORE_STD}:
        metrics.update(rf.two_tower_score_metrics(sets, fit_rows, valid_rows, value_model))
    if teacher is not None:
        metrics.update(_agreement(booster, sets.holdout, features, teacher, params, options.seed, affinity))
    advance(1)
    if progress is not None:
        progress.console.print(metrics_table(metrics, objective))

    def write_files(folder: Path) -> None:
        booster.save_model(str(folder / MODEL_FILE))

    return save_artifact(
        runtime,
        model=MODEL,
        write_files=write_files,
        sets=sets,
        feature_service=FEATURE_SERVICE,
        features=list(service_features),
        metrics=metrics,
        primary_metric="ndcg20_utility",
        options=options,
        params=params_out,
    )


# metrics ---------------------------------------------------------------------------------------------------


def holdout_metrics(holdout: pd.DataFrame, scores: np.ndarray, value_model: ValueModel) -> dict[str, float]:
    """AUC on engagement and NDCG@20 (gain: realised utility) per request, model and popularity."""
    metrics: dict[str, float] = {}
    popularity = np.nan_to_num(holdout[POPULARITY].to_numpy(np.float64), nan=0.0)
    engaged = rf.engaged(holdout)
    requests = holdout["request_id"].to_numpy()
    gains = rf.realised_utility(holdout, value_model)
    rf.put(metrics, "auc_engaged", rf.auc(engaged, scores))
    rf.put(metrics, "auc_engaged_popularity", rf.auc(engaged, popularity))
    rf.put(metrics, "ndcg20_utility", rf.ndcg_at_k(requests, scores, gains))
    rf.put(metrics, "ndcg20_popularity", rf.ndcg_at_k(requests, popularity, gains))
    return metrics


def _agreement(
    booster: Any,
    holdout: pd.DataFrame,
    features: list[str],
    teacher: Any,
    params: dict[str, Any],
    seed: int,
    affinity: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> dict[str, float]:
    """Share of the re-ranker's top k in the first stage's (and popularity's) top m, over candidate slates.

    A slate pairs the request's user with other videos, so the two-tower columns are recomputed for it."""
    pair_dependent = [c for c in dict.fromkeys([*teacher.inputs, *features]) if c.startswith("retrieval__")]
    if pair_dependent and affinity is None:
        raise ValueError(f"Candidate slates need `affinity` to compute {pair_dependent[:3]} for new pairs.")
    base = [c for c in dict.fromkeys([*teacher.features, *features]) if c not in pair_dependent]
    if pair_dependent:
        base = list(
            dict.fromkeys(
                [*base, "user_id", "video_id", "event_timestamp", *rf.two_tower_user_columns(holdout)]
            )
        )
    slates = rf.candidate_slates(
        holdout,
        n_requests=params["slate_requests"],
        n_candidates=params["slate_size"],
        seed=seed,
        features=sorted(base, key=list(holdout.columns).index),
    )
    frame = affinity(slates.frame) if pair_dependent and affinity is not None else slates.frame
    slates = rf.Slates(frame, slates.slate, slates.n_candidates)
    k, m = params["top_teacher"], params["top_student"]
    teacher_scores = teacher.utility_batched(rf.matrix(slates.frame, teacher.inputs))
    student = _predict(booster, rf.matrix(slates.frame, features))
    popularity = np.nan_to_num(slates.frame[POPULARITY].to_numpy(np.float64), nan=0.0)
    out: dict[str, float] = {}
    rf.put(out, f"agreement_top{k}_in_top{m}", rf.agreement(slates.slate, teacher_scores, student, k, m))
    rf.put(
        out,
        f"agreement_top{k}_in_top{m}_popularity",
        rf.agreement(slates.slate, teacher_scores, popularity, k, m),
    )
    rf.put(out, f"agreement_top{k}_in_top{m}_random", min(m / slates.n_candidates, 1.0))
    rf.put(out, "agreement_slates", float(len(np.unique(slates.slate))))
    return out


def metrics_table(metrics: dict[str, float], objective: str) -> Any:
    """A rich table: model vs popularity on each figure."""
    from rich.table import Table

    table = Table(title=f"first-stage holdout metrics (objective: {objective})")
    for column in ("metric", "model", "popularity", "random"):
        table.add_column(column, justify="right")

    def cell(name: str) -> str:
        return f"{metrics[name]:.4f}" if name in metrics else "–"

    table.add_row("AUC engaged", cell("auc_engaged"), cell("auc_engaged_popularity"), "0.5000")
    table.add_row("NDCG@20 utility", cell("ndcg20_utility"), cell("ndcg20_popularity"), "")
    for name in [
        n for n in metrics if n.startswith("agreement_top") and not n.endswith(("_popularity", "_random"))
    ]:
        table.add_row(name, cell(name), cell(f"{name}_popularity"), cell(f"{name}_random"))
    return table


# helpers ---------------------------------------------------------------------------------------------------


def _teacher(runtime: Runtime, two_tower_version: str | None) -> Any:
    """The current re-ranker through the serving loader (bound to the current two-tower), or None."""
    store = artifact_store(runtime)
    if store.current_version("reranker") is None:
        return None
    from serving.rankers import RerankerScorer

    try:
        return RerankerScorer.load(
            store,
            expected_features=rf.service_features(runtime, TEACHER_SERVICE),
            two_tower_version=two_tower_version,
        )
    except ArtifactError as exc:
        raise ArtifactError(
            f"The current re-ranker cannot be used as the first stage's teacher: {exc}"
        ) from exc


def _target(
    objective: str, frame: pd.DataFrame, value_model: ValueModel, teacher: np.ndarray | None, blend: float
) -> np.ndarray:
    if objective == "label":
        return rf.engaged(frame)
    realised = rf.realised_utility(frame, value_model)
    if objective == "utility":
        return realised.astype(np.float32)
    assert teacher is not None
    if objective == "blend":
        return ((1 - blend) * realised + blend * teacher).astype(np.float32)
    if objective == "pairwise":  # relevance grades: the re-ranker's order within the request (0 = last)
        ranks = pd.Series(teacher).groupby(frame["request_id"].to_numpy()).rank(method="first") - 1
        return ranks.to_numpy(np.float32)
    return teacher.astype(np.float32)  # distill


def _objective_params(objective: str) -> dict[str, Any]:
    if objective == "label":
        return {"objective": "binary:logistic", "eval_metric": "logloss"}
    if objective == "pairwise":
        return {"objective": "rank:pairwise", "eval_metric": "ndcg@20", "ndcg_exp_gain": False}
    return {"objective": "reg:squarederror", "eval_metric": "rmse"}


def _group_sizes(frame: pd.DataFrame) -> np.ndarray:
    """Sizes of consecutive request groups (rows of a request are contiguous after the time split)."""
    codes = pd.factorize(frame["request_id"])[0]
    if (np.diff(codes) < 0).any():
        raise ValueError("rows of a request must be contiguous for rank:pairwise")
    return np.bincount(codes)


def _inputs(frame: pd.DataFrame, features: list[str], blank: list[int]) -> np.ndarray:
    x = rf.matrix(frame, features)
    if blank:
        x[:, blank] = np.nan
    return x


def _predict(booster: Any, x: np.ndarray, batch: int = 65_536) -> np.ndarray:
    parts = [
        np.asarray(booster.inplace_predict(x[s : s + batch], validate_features=False), dtype=np.float64)
        for s in range(0, len(x), batch)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def _params(options: TrainOptions) -> dict[str, Any]:
    unknown = sorted(set(options.params) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"Unknown first-stage params {unknown}; known: {', '.join(DEFAULTS)}.")
    params = {**DEFAULTS, **options.params}
    if options.epochs is not None:
        params["rounds"] = options.epochs  # one boosting round is the first stage's "epoch"
    if params["objective"] not in OBJECTIVES:
        raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)} (got {params['objective']!r}).")
    if not 0 < params["top_teacher"] <= params["top_student"] < params["slate_size"]:
        raise ConfigError(
            "Agreement needs 0 < top_teacher ≤ top_student < slate_size (else it is 1 by construction); got "
            f"{params['top_teacher']}, {params['top_student']}, {params['slate_size']}."
        )
    if params["two_tower_rows"] not in ("in_sample", "out_of_time"):
        raise ConfigError(
            f"two_tower_rows must be 'in_sample' or 'out_of_time' (got {params['two_tower_rows']!r})."
        )
    if not 0 <= params["blend"] <= 1:
        raise ConfigError(f"blend must be in [0, 1] (got {params['blend']}).")
    return params
