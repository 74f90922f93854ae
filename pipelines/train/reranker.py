"""Multi-task re-ranker (TFRS): one shared bottom over the `reranker` features, seven heads, one utility.

    foryou train reranker            # → artifacts/reranker/<version>/{saved_model/, value_model.toml}

Input: float32 [None, n_features] in the FeatureService's order, NaN where a view had no row (a dormant
user's `user_stats`, a new video's `video_velocity`: whole views go missing together). Inside the model:
  1. two columns are ignored: `video_stats__creator_id` (an identifier, its number means nothing) and
     `video_stats__uploaded_at_epoch_s` (absolute time: every holdout value lies beyond the training range;
     `request_time__video_age_hours` carries the information);
  2. a missing indicator per view (1 when the view's features are NaN) — missing is informative (a dormant
     user is not an average user) and the indicator lets the net tell "no row" from "average";
  3. signed log1p (counts are heavy-tailed), then a Normalization layer with the training mean/variance
     computed ignoring NaN (Keras' `adapt` would turn NaN into a NaN mean), then NaN → 0 (= the training
     mean) and a clip to ±8 standard deviations so a serving outlier cannot saturate the net.
Shared bottom: an MLP, or a DCN-v2 cross layer (`tfrs.layers.dcn.Cross`) before the MLP; both are trained and
the better on a validation slice (the last `validation_share` of the training window, by time) is kept, so
the holdout stays an untouched measurement. Heads: P(like), P(long watch), P(share), P(save), P(comment),
P(follow) — each a `tfrs.tasks.Ranking` with binary cross-entropy on logits, the bias started at the
training base rate — and E[watch time] — MSE on log1p(seconds), exported as max(exp(·) × f − 1, 0) with f set
so the mean on the validation slice is right (`mean_matching_factor`): a weighted-sum utility needs the
mean. Training keeps the epoch with the best validation NDCG, then recalibrates each probability on the
validation slice (Platt scaling).

Two-tower inputs (docs/models-ranking.md, "User × video affinity"): after the service's features the model
reads user × video affinity from the current two-tower, computed by serving/affinity.py (the function
evaluation and serving call). Default (`two_tower_rows="out_of_time"`): it trains on the last
`out_of_time_days` of the training window, whose standardised score comes from a two-tower of the same recipe
fitted on the days before (the current two-tower's score on training rows is in-sample: measured far too
optimistic); `"in_sample"`: the current two-tower on every row, with the element-wise product user ⊙ video
too. The manifest lists them apart (params `extra_inputs`, `two_tower_version`); the loader refuses another
two-tower version.

The export is a tf.Module with one tf.function, `score(features)`, with a fixed input signature, returning
every head (probabilities and seconds); serving loads it once and calls it directly (serving/rankers.py).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import foryou  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from foryou.runtime import Runtime
from foryou.value_model import BINARY_HEADS, HEADS, ValueModel, load_value_model
from pipelines.train import ranking_features as rf
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

MODEL = "reranker"
FEATURE_SERVICE = "reranker"
SAVED_MODEL = "saved_model"
VALUE_MODEL_FILE = "value_model.toml"
IGNORED = ("video_stats__creator_id", "video_stats__uploaded_at_epoch_s")
POPULARITY = "video_stats__popularity_pct"
CLIP = 8.0
DEFAULTS: dict[str, Any] = {
    "variants": ["mlp", "dcn"],
    "hidden": [256, 128],
    "head_hidden": 64,
    "cross_layers": 1,
    "epochs": 6,  # at most: the epoch with the best validation NDCG is kept
    "batch_size": 1024,
    "learning_rate": 2e-3,
    "validation_share": 0.1,
    "value_model": None,  # path of a value-model TOML; None: foryou/value_model.toml
    "threads": 2,
    # User × video affinity from the current two-tower (serving/affinity.py), appended after the service's
    # features: the score, and (products) the element-wise product user ⊙ video, one input per dimension.
    "two_tower": True,
    "two_tower_products": False,  # products: +0.006 NDCG but watch time 1.77× over-predicted (docs)
    # Training rows' two-tower inputs: "out_of_time" (the last `out_of_time_days` of training only, scored by
    # a two-tower of the same recipe fitted on the days before; its standardised score, and its products
    # after rotating its space onto the current one — ranking_features.out_of_time_rows) or "in_sample" (the
    # current two-tower on every training row; it was trained on them: measured too optimistic).
    "two_tower_rows": "out_of_time",
    "out_of_time_days": 2.0,
    # Short-term interest (serving/recent.py): cosine of the candidate to the user's last positives before
    # the request, in the two-tower's video space. The re-ranker's own input; the first stage lacks it.
    "recent_similarity": True,
    # Whether the user followed the candidate's creator before the request (serving/follows.py).
    "follows_creator": True,
}


def train(runtime: Runtime, options: TrainOptions, progress: Any = None) -> TrainResult:
    """Train both bottoms, keep the better on validation, measure on the holdout, export and promote."""
    params = _params(options)
    value_model = load_value_model(params["value_model"])
    features = rf.service_features(runtime, FEATURE_SERVICE)
    sets = load_sets(
        runtime, "ranking", until=options.until, since=options.since, holdout_days=options.holdout_days
    )
    two_tower = rf.current_two_tower(runtime) if params["two_tower"] else None
    extra: list[str] = []
    if two_tower is not None:
        from serving.affinity import product_names
        from serving.two_tower import read_videos

        out_of_time = params["two_tower_rows"] == "out_of_time"
        products = bool(params["two_tower_products"])
        score = rf.TWO_TOWER_SCORE_STD if out_of_time else rf.TWO_TOWER_SCORE  # see serving/affinity.py
        extra = [score, *(product_names(two_tower.dim) if products else [])]
        videos = read_videos(runtime.engine)
        timed = rf.history_inputs(params)
        history = rf.history_for(runtime, timed, sets.until)
        extra += timed
        info: dict[str, float] = {}
        days = params["out_of_time_days"] if out_of_time else None
        sets = rf.with_ranker_inputs(
            runtime,
            sets,
            two_tower,
            videos,
            extra,
            history,
            out_of_time_days=days,
            progress=progress,
            info=info,
        )
        params = {**params, **info}  # recorded in the manifest (the alignment's mean cosine)
    return fit_and_save(
        runtime,
        sets,
        features,
        value_model,
        options,
        params,
        progress,
        extra_inputs=extra,
        two_tower_version=two_tower.version if two_tower is not None else None,
    )


def fit_and_save(
    runtime: Runtime,
    sets: TrainingSets,
    features: list[str],
    value_model: ValueModel,
    options: TrainOptions,
    params: dict[str, Any],
    progress: Any = None,
    *,
    extra_inputs: list[str] | None = None,
    two_tower_version: str | None = None,
) -> TrainResult:
    """Everything after loading: split off validation, fit, measure, write the artifact.

    `features` is the FeatureService's list (the manifest's contract); `extra_inputs` are columns of the
    sets appended after them (the two-tower inputs, computed by `two_tower_version`)."""
    tf = tensorflow(params["threads"])
    seed_everything(options.seed)
    extra = list(extra_inputs or [])
    inputs = [*features, *extra]
    for frame, what in ((sets.train, "ranking (train)"), (sets.holdout, "ranking (holdout)")):
        rf.require_columns(frame, [*inputs, *HEADS, "request_id"], what)
    fit_rows, valid_rows = rf.time_split(sets.train, params["validation_share"])
    x_fit, x_valid = rf.matrix(fit_rows, inputs), rf.matrix(valid_rows, inputs)

    requests_valid = valid_rows["request_id"].to_numpy()
    gains_valid = rf.realised_utility(valid_rows, value_model)

    def validate(scorer: Any) -> float:
        ndcg = rf.ndcg_at_k(requests_valid, value_model.utility(score_matrix(scorer, x_valid)), gains_valid)
        return ndcg if ndcg is not None else -math.inf

    candidates: dict[str, tuple[Any, float]] = {}
    best_epochs: dict[str, int] = {}
    for variant in params["variants"]:
        seed_everything(options.seed)  # each variant starts from the same seed: the choice is reproducible
        scorer, ndcg, best_epochs[variant] = _fit(
            tf, variant, (x_fit, fit_rows), (x_valid, valid_rows), inputs, params, validate, progress
        )
        candidates[variant] = (scorer, ndcg)
    chosen = max(candidates, key=lambda v: (candidates[v][1], -params["variants"].index(v)))
    scorer = candidates[chosen][0]

    advance = progress_task(progress, "holdout metrics", 1)
    heads = score_matrix(scorer, rf.matrix(sets.holdout, inputs))
    metrics = holdout_metrics(sets.holdout, heads, value_model, float(sets.train["watch_time_s"].mean()))
    for variant, (other, valid_ndcg) in candidates.items():
        rf.put(metrics, f"valid_ndcg20_{variant}", valid_ndcg)
        if variant != chosen:
            other_heads = score_matrix(other, rf.matrix(sets.holdout, inputs))
            rf.put(metrics, f"ndcg20_utility_{variant}", _ndcg(sets.holdout, other_heads, value_model))
    advance(1)
    if progress is not None:
        progress.console.print(head_table(metrics, chosen))

    source = Path(value_model.source)

    def write_files(folder: Path) -> None:
        tf.saved_model.save(scorer, str(folder / SAVED_MODEL))
        if source.is_file():
            shutil.copyfile(source, folder / VALUE_MODEL_FILE)

    record = {
        **{k: v for k, v in params.items() if k != "value_model"},
        "variant": chosen,
        "value_model_source": value_model.source,
        "value_model_weights": value_model.weights,
        "ignored_features": [f for f in IGNORED if f in features],
        "watch_time_smearing": float(scorer.smearing.numpy()),
        "platt": {
            h: [float(a), float(b)]
            for h, a, b in zip(BINARY_HEADS, scorer.platt_a.numpy(), scorer.platt_b.numpy(), strict=True)
        },
        "best_epoch": best_epochs,
        "fit_rows": len(fit_rows),
        "validation_rows": len(valid_rows),
        "extra_inputs": extra,
        "two_tower_version": two_tower_version,
    }
    if extra:
        metrics.update(rf.two_tower_score_metrics(sets, fit_rows, valid_rows, value_model))
    return save_artifact(
        runtime,
        model=MODEL,
        write_files=write_files,
        sets=sets,
        feature_service=FEATURE_SERVICE,
        features=features,
        metrics=metrics,
        primary_metric="ndcg20_utility",
        options=options,
        params=record,
    )


# metrics ---------------------------------------------------------------------------------------------------


def holdout_metrics(
    holdout: pd.DataFrame, heads: dict[str, np.ndarray], value_model: ValueModel, train_watch_mean: float
) -> dict[str, float]:
    """AUC / ECE / calibration ratio per binary head, watch-time MAE, NDCG@20 of the utility, baselines.

    Baselines: popularity (`video_stats__popularity_pct`) for AUC and NDCG, the logged order (position) for
    NDCG, and the training mean watch time for the MAE (the head estimates a mean, so a mean is its peer).
    """
    metrics: dict[str, float] = {}
    popularity = np.nan_to_num(holdout[POPULARITY].to_numpy(np.float64), nan=0.0)
    for head in BINARY_HEADS:
        labels = holdout[head].to_numpy(np.float64)
        rf.put(metrics, f"auc_{head}", rf.auc(labels, heads[head]))
        rf.put(metrics, f"auc_{head}_popularity", rf.auc(labels, popularity))
        rf.put(metrics, f"ece_{head}", rf.expected_calibration_error(labels, heads[head]))
        rf.put(metrics, f"calibration_{head}", rf.calibration_ratio(labels, heads[head]))
    watch = holdout["watch_time_s"].to_numpy(np.float64)
    rf.put(metrics, "watch_time_mae", float(np.mean(np.abs(heads["watch_time_s"] - watch))))
    rf.put(metrics, "watch_time_mae_constant", float(np.mean(np.abs(train_watch_mean - watch))))
    rf.put(metrics, "watch_time_mean_ratio", float(heads["watch_time_s"].sum() / max(watch.sum(), 1e-9)))
    requests = holdout["request_id"].to_numpy()
    gains = rf.realised_utility(holdout, value_model)
    rf.put(metrics, "ndcg20_utility", _ndcg(holdout, heads, value_model))
    rf.put(metrics, "ndcg20_popularity", rf.ndcg_at_k(requests, popularity, gains))
    rf.put(metrics, "ndcg20_logged_order", rf.ndcg_at_k(requests, -holdout["position"].to_numpy(), gains))
    return metrics


def _ndcg(holdout: pd.DataFrame, heads: dict[str, np.ndarray], value_model: ValueModel) -> float | None:
    return rf.ndcg_at_k(
        holdout["request_id"].to_numpy(),
        value_model.utility(heads),
        rf.realised_utility(holdout, value_model),
    )


def head_table(metrics: dict[str, float], variant: str) -> Any:
    """A rich table: one row per head, model vs popularity."""
    from rich.table import Table

    table = Table(title=f"re-ranker holdout metrics (bottom: {variant})")
    for column in ("head", "AUC", "AUC popularity", "ECE", "Σpred/Σobs"):
        table.add_column(column, justify="right")

    def cell(name: str) -> str:
        return f"{metrics[name]:.4f}" if name in metrics else "–"

    for head in BINARY_HEADS:
        table.add_row(
            head,
            cell(f"auc_{head}"),
            cell(f"auc_{head}_popularity"),
            cell(f"ece_{head}"),
            cell(f"calibration_{head}"),
        )
    table.add_row(
        "watch_time_s",
        f"MAE {cell('watch_time_mae')} s",
        f"MAE {cell('watch_time_mae_constant')} s (mean)",
        "",
        cell("watch_time_mean_ratio"),
    )
    table.add_row(
        "utility NDCG@20",
        cell("ndcg20_utility"),
        cell("ndcg20_popularity"),
        f"logged {cell('ndcg20_logged_order')}",
        "",
    )
    return table


# model -----------------------------------------------------------------------------------------------------


def score_matrix(scorer: Any, x: np.ndarray, batch: int = 8192) -> dict[str, np.ndarray]:
    """Every head for the rows of x, through the exported function (the same graph serving runs)."""
    parts: dict[str, list[np.ndarray]] = {h: [] for h in HEADS}
    for start in range(0, max(len(x), 1), batch):
        out = scorer.score(x[start : start + batch])
        for head in HEADS:
            parts[head].append(out[head].numpy().astype(np.float64))
    return {h: np.concatenate(v) for h, v in parts.items()}


def _fit(
    tf: Any,
    variant: str,
    fit: tuple[np.ndarray, pd.DataFrame],
    valid: tuple[np.ndarray, pd.DataFrame],
    features: list[str],
    params: dict[str, Any],
    validate: Callable[[Any], float],
    progress: Any,
) -> tuple[Any, float, int]:
    """Fit one bottom, keep its best epoch, calibrate on validation; returns (scorer, validation NDCG, epoch).

    The epoch is chosen by validation NDCG of the utility, not by log loss, so the probabilities are then
    recalibrated on the validation slice (Platt: sigmoid(a·logit + b) per binary head) and E[watch time]
    gets the factor that makes its mean right on the validation slice (`mean_matching_factor`).
    """
    import tensorflow_recommenders as tfrs

    x, frame = fit
    x_valid, valid_rows = valid

    keep = [j for j, f in enumerate(features) if f not in IGNORED]
    kept_x = x[:, keep]
    view_of = [features[j].split("__")[0] for j in keep]
    groups = []  # column positions (within the kept columns) of each view that has missing rows
    for view in sorted(set(view_of)):
        columns = [i for i, v in enumerate(view_of) if v == view]
        if np.isnan(kept_x[:, columns]).any():
            groups.append(columns)
    transformed = np.sign(kept_x) * np.log1p(np.abs(kept_x))
    with np.errstate(invalid="ignore"), warnings_off():
        mean = np.nan_to_num(np.nanmean(transformed, axis=0))
        variance = np.nan_to_num(np.nanvar(transformed, axis=0), nan=1.0)
    variance[variance < 1e-12] = 1.0  # a constant column in training: centre it, do not blow it up
    labels, valid_labels = _targets(frame), _targets(valid_rows)

    scorer = Scorer.build(tf, tfrs, variant, len(features), keep, groups, mean, variance, labels, params)
    tasks = {
        h: tfrs.tasks.Ranking(loss=tf.keras.losses.BinaryCrossentropy(from_logits=True)) for h in BINARY_HEADS
    }
    tasks["watch_time_s"] = tfrs.tasks.Ranking(loss=tf.keras.losses.MeanSquaredError())

    class MultiTask(tfrs.models.Model):
        def __init__(self) -> None:
            super().__init__()
            self.scorer_net = scorer.net
            self.tasks = tasks

        def compute_loss(self, inputs: Any, training: bool = False) -> Any:
            features_batch, label_batch = inputs
            outputs = self.scorer_net(features_batch, training=training)
            return tf.add_n(
                [
                    self.tasks[h](labels=label_batch[h][:, None], predictions=outputs[h][:, None])
                    for h in HEADS
                ]
            )

    model = MultiTask()
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=params["learning_rate"]))
    batch = params["batch_size"]
    data = (
        tf.data.Dataset.from_tensor_slices((x, labels))
        .shuffle(len(x), seed=0, reshuffle_each_iteration=True)
        .batch(batch)
    )
    steps = math.ceil(len(x) / batch)
    advance = progress_task(progress, f"fit {variant}", params["epochs"] * steps)

    def set_smearing() -> None:
        predicted = scorer.net(x_valid, training=False)["watch_time_s"].numpy().astype(np.float64)
        seconds = np.expm1(np.asarray(valid_labels["watch_time_s"], dtype=np.float64))
        scorer.smearing.assign(mean_matching_factor(np.exp(predicted), seconds))

    best: dict[str, Any] = {"ndcg": -math.inf, "epoch": 0, "weights": None}

    class EpochEnd(tf.keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            advance(1)

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            set_smearing()
            ndcg = validate(scorer)
            if ndcg > best["ndcg"]:
                best.update(ndcg=ndcg, epoch=epoch + 1, weights=scorer.net.get_weights())

    model.fit(data, epochs=params["epochs"], verbose=0, callbacks=[EpochEnd()])
    if best["weights"] is not None:
        scorer.net.set_weights(best["weights"])
    set_smearing()
    _platt(scorer, x_valid, valid_labels)
    return scorer, validate(scorer), best["epoch"]


def mean_matching_factor(exp_predicted: np.ndarray, seconds: np.ndarray) -> float:
    """The factor f with mean(max(exp_predicted · f − 1, 0)) = mean(seconds): E[watch time] read as
    max(exp(log1p-prediction) · f − 1, 0) is then right on average over the validation slice.

    Replaces Duan's smearing (f = mean(exp(residual))), which assumes residuals that look alike everywhere:
    watch time is a mixture of no view (0 s) and watches of every length, and on a small world an early-epoch
    net got f = 4.3 and over-predicted the mean 1.75×. The left side grows with f: bisection."""
    exp_predicted = np.asarray(exp_predicted, dtype=np.float64)
    target = float(np.mean(seconds)) if len(seconds) else 0.0

    def mean_at(f: float) -> float:
        return float(np.mean(np.maximum(exp_predicted * f - 1.0, 0.0)))

    lo, hi = 0.0, 1.0
    while mean_at(hi) < target and hi < 1e6:
        lo, hi = hi, hi * 2.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if mean_at(mid) < target else (lo, mid)
    return (lo + hi) / 2.0


def _targets(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Training targets per head: the binary labels, and log1p of watch time in seconds."""
    targets = {h: frame[h].to_numpy(np.float32) for h in BINARY_HEADS}
    targets["watch_time_s"] = np.log1p(frame["watch_time_s"].to_numpy(np.float32))
    return targets


def _platt(scorer: Any, x: np.ndarray, labels: dict[str, np.ndarray]) -> None:
    """Per binary head, sigmoid(a·logit + b) fitted by logistic regression on (validation) rows.

    A head with fewer than 10 positives or a non-positive slope keeps a = 1 and only gets its intercept
    shifted so the mean prediction matches the observed rate (a monotone map either way: order is kept).
    """
    from sklearn.linear_model import LogisticRegression

    raw = scorer.net(x, training=False)
    slopes, shifts = [], []
    for head in BINARY_HEADS:
        logit = raw[head].numpy().astype(np.float64)
        y = labels[head].astype(np.float64)
        a, b = 1.0, 0.0
        if y.sum() >= 10 and y.sum() < len(y):
            fit = LogisticRegression(C=1e6, max_iter=1000).fit(logit[:, None], y)
            a, b = float(fit.coef_[0, 0]), float(fit.intercept_[0])
        if a <= 0 or y.sum() < 10:
            a, b = 1.0, _intercept_shift(logit, float(y.mean()))
        slopes.append(a)
        shifts.append(b)
    scorer.platt_a.assign(np.asarray(slopes, np.float32))
    scorer.platt_b.assign(np.asarray(shifts, np.float32))


class Scorer:
    """Namespace for building the exported tf.Module (TensorFlow is imported lazily)."""

    @staticmethod
    def build(
        tf: Any,
        tfrs: Any,
        variant: str,
        n_features: int,
        keep: list[int],
        groups: list[list[int]],
        mean: np.ndarray,
        variance: np.ndarray,
        labels: dict[str, np.ndarray],
        params: dict[str, Any],
    ) -> Any:
        keep_t = tf.constant(keep, dtype=tf.int32)
        group_t = [tf.constant(g, dtype=tf.int32) for g in groups]
        normalise = tf.keras.layers.Normalization(mean=mean, variance=variance)

        inputs = tf.keras.Input(shape=(n_features,), dtype=tf.float32)
        kept = tf.gather(inputs, keep_t, axis=1)
        missing = tf.math.is_nan(kept)
        indicators = [
            tf.reduce_max(tf.cast(tf.gather(missing, g, axis=1), tf.float32), axis=1, keepdims=True)
            for g in group_t
        ]
        z = tf.math.sign(kept) * tf.math.log1p(tf.math.abs(kept))
        z = normalise(tf.where(missing, tf.zeros_like(z), z))
        z = tf.clip_by_value(tf.where(missing, tf.zeros_like(z), z), -CLIP, CLIP)
        h = tf.concat([z, *indicators], axis=1) if indicators else z
        if variant == "dcn":
            x0 = h
            for _ in range(params["cross_layers"]):
                h = tfrs.layers.dcn.Cross()(x0, h)
        elif variant != "mlp":
            raise ValueError(f"Unknown bottom {variant!r}; use 'mlp' or 'dcn'.")
        for width in params["hidden"]:
            h = tf.keras.layers.Dense(width, activation="relu")(h)
        outputs = {}
        for head in HEADS:
            target = labels[head]
            if head in BINARY_HEADS:
                rate = float(np.clip(target.mean(), 1e-4, 1 - 1e-4))
                bias = math.log(rate / (1 - rate))
            else:
                bias = float(target.mean())
            hidden = tf.keras.layers.Dense(params["head_hidden"], activation="relu", name=f"{head}_hidden")(h)
            out = tf.keras.layers.Dense(
                1, name=f"{head}_out", bias_initializer=tf.keras.initializers.Constant(bias)
            )(hidden)
            outputs[head] = tf.squeeze(out, axis=1)
        net = tf.keras.Model(inputs, outputs)

        module = tf.Module()
        module.net = net
        module.smearing = tf.Variable(1.0, trainable=False, dtype=tf.float32)
        module.platt_a = tf.Variable(tf.ones(len(BINARY_HEADS)), trainable=False)
        module.platt_b = tf.Variable(tf.zeros(len(BINARY_HEADS)), trainable=False)

        @tf.function(
            input_signature=[tf.TensorSpec([None, n_features], tf.float32, name="features")], autograph=False
        )
        def score(features: Any) -> dict[str, Any]:
            raw = net(features, training=False)
            result = {
                h: tf.sigmoid(module.platt_a[i] * raw[h] + module.platt_b[i])
                for i, h in enumerate(BINARY_HEADS)
            }
            result["watch_time_s"] = tf.maximum(tf.exp(raw["watch_time_s"]) * module.smearing - 1.0, 0.0)
            return result

        module.score = score
        return module


def _intercept_shift(logit: np.ndarray, rate: float) -> float:
    """The b with mean(sigmoid(logit + b)) = rate (0 when no b in [−50, 50] reaches it)."""
    from scipy.optimize import brentq
    from scipy.special import expit

    def gap(shift: float) -> float:
        return float(np.mean(expit(logit + shift))) - rate

    if gap(-50.0) * gap(50.0) > 0:
        return 0.0
    return float(brentq(gap, -50.0, 50.0))


# helpers ---------------------------------------------------------------------------------------------------


def _params(options: TrainOptions) -> dict[str, Any]:
    from foryou.errors import ConfigError

    unknown = sorted(set(options.params) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"Unknown re-ranker params {unknown}; known: {', '.join(DEFAULTS)}.")
    params = {**DEFAULTS, **options.params}
    if options.epochs is not None:
        params["epochs"] = options.epochs
    bad = [v for v in params["variants"] if v not in ("mlp", "dcn")]
    if bad or not params["variants"]:
        raise ConfigError(f"Re-ranker variants must be a non-empty subset of ['mlp', 'dcn'] (got {bad}).")
    if params["two_tower_rows"] not in ("in_sample", "out_of_time"):
        raise ConfigError(
            f"two_tower_rows must be 'in_sample' or 'out_of_time' (got {params['two_tower_rows']!r})."
        )
    if not 0 < params["validation_share"] < 1:
        raise ConfigError(f"validation_share must be in (0, 1) (got {params['validation_share']}).")
    return params
