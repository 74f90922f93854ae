"""`foryou evaluate`: every retrieval source and ranking stage on the same time-based holdout.

    result = evaluate(runtime, EvaluateOptions(...), progress)

Retrieval (retrieval.py): recall@K of popularity, recent popularity, trending, fresh uploads, the follow
graph, the models that are trained (two-tower, session encoder), their union, and on a simulated world the
oracle. Ranking (ranking.py): NDCG@K of random order, popularity, the first stage, the re-ranker and the
oracle on per-user-day pools of holdout impressions; AUC and calibration per re-ranker head. The report
(report.py) holds the same tables and plots.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from foryou.errors import ConfigError
from foryou.runtime import Runtime
from foryou.value_model import load_value_model
from pipelines.datasets.build import DatasetError
from pipelines.evaluate import ranking as rk
from pipelines.evaluate import report
from pipelines.evaluate import retrieval as rt
from pipelines.evaluate import sources as src
from pipelines.evaluate.shares import learned_union, mean_shares
from pipelines.train.data import load_sets

HEURISTIC_SOURCES = ("popularity", "recent popularity", "trending", "fresh", "follow graph")
ROUND_ROBIN = "union (round-robin)"
STAGE_GAP = "re-ranker - first stage"  # ndcg.attrs key: the paired-bootstrap interval of the NDCG gap
LEARNED = "union (learned shares)"


@dataclass(frozen=True)
class EvaluateOptions:
    until: datetime | None = None
    holdout_days: float = 1.0
    ks: tuple[int, ...] = (10, 50, 100, 300)
    ndcg_k: tuple[int, ...] = (10, 20)
    max_queries: int | None = 2000
    seed: int = 0
    world: str | None = "demo"  # simulated world whose truth gives the oracle; None or missing: no oracle
    report_dir: Path | None = None


@dataclass
class Evaluation:
    recall: pd.DataFrame  # source × K
    ndcg: pd.DataFrame  # stage × K
    heads: pd.DataFrame  # head × (auc, ece, calibration_ratio, positive rate)
    notes: list[str] = field(default_factory=list)
    shares: pd.DataFrame = field(default_factory=pd.DataFrame)  # source × K: learned union budget shares
    report: Path | None = None
    sizes: dict[str, int] = field(default_factory=dict)

    def metrics(self) -> list[dict[str, Any]]:
        """One record per figure, each next to its baseline (popularity) — what --json prints."""
        out: list[dict[str, Any]] = []
        top_k = self.recall.columns[-1]
        base = self.recall.loc["popularity", top_k]
        for source, value in self.recall[top_k].items():
            out.append(_record(f"recall@{top_k} {source}", "recall", value, base, "popularity"))
        if len(self.ndcg):
            nk = 20 if 20 in self.ndcg.columns else self.ndcg.columns[-1]
            base = self.ndcg.loc["popularity", nk]
            for stage, value in self.ndcg[nk].items():
                out.append(_record(f"ndcg@{nk} {stage}", "ndcg", value, base, "popularity"))
            gap = self.ndcg.attrs.get(STAGE_GAP)
            if gap is not None:
                record = _record(
                    f"ndcg@{gap['k']} re-ranker - first stage",
                    "ndcg",
                    self.ndcg.loc["re-ranker", gap["k"]],
                    self.ndcg.loc["first stage", gap["k"]],
                    "first stage",
                )
                out.append(
                    {
                        **record,
                        "diff": round(gap["diff"], 6),
                        "diff_ci95": [round(gap["lo"], 6), round(gap["hi"], 6)],
                    }
                )
        for head, row in self.heads.iterrows():
            out.append(_record(f"auc {head}", "auc", row["auc"], 0.5, "random"))
        return out


def _record(metric: str, unit: str, ours: float, baseline: float, name: str) -> dict[str, Any]:
    ratio = ours / baseline if baseline and np.isfinite(baseline) else float("nan")
    return {
        "metric": metric,
        "unit": unit,
        "ours": round(float(ours), 6),
        "baseline": round(float(baseline), 6),
        "ratio": round(float(ratio), 4),
        "baseline_name": name,
    }


ModelSources = Callable[[Runtime, rt.Queries, rt.Corpus, list[str]], dict[str, rt.Source]]
RankingStages = Callable[[Runtime, pd.DataFrame, list[str]], dict[str, Any]]


def evaluate(
    runtime: Runtime,
    options: EvaluateOptions,
    *,
    model_sources: ModelSources | None = None,
    ranking_stages: RankingStages | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> Evaluation:
    if not options.ks or min(options.ks) < 1:
        raise ConfigError(f"--k values must be positive integers (got {options.ks}).")
    notes: list[str] = []
    world = _world(runtime, options.world, notes)

    say("retrieval: building the holdout")
    sets = load_sets(runtime, "retrieval", until=options.until, holdout_days=options.holdout_days)
    corpus = rt.load_corpus(runtime.engine)
    queries = rt.make_queries(
        runtime.engine, corpus, sets.holdout, max_queries=options.max_queries, seed=options.seed
    )
    notes.append(
        f"holdout ({sets.holdout_start:%Y-%m-%d %H:%M}, {sets.until:%Y-%m-%d %H:%M}] UTC; "
        f"{len(queries):,} retrieval queries (holdout users with a positive not shown before), "
        f"{np.mean([len(t) for t in queries.targets]):.1f} targets each, corpus {len(corpus):,} videos"
    )
    sources = _heuristic_sources(runtime, sets, corpus, queries)
    if model_sources is not None:
        sources.update(model_sources(runtime, queries, corpus, notes))
    if world is not None:
        sources["oracle"] = src.oracle(world.response_model())
    k_max = max(options.ks)
    ranked: dict[str, list[np.ndarray]] = {}
    for name, source in sources.items():
        say(f"retrieval: {name}")
        ranked[name] = source(queries, corpus, k_max)
    served = [n for n in ranked if n != "oracle"]
    ranked[ROUND_ROBIN] = rt.union([ranked[n] for n in served])
    recall = pd.DataFrame(
        {
            k: {name: rt.recall_at(lists, queries.targets, k) for name, lists in ranked.items()}
            for k in options.ks
        }
    )
    shares = _learned_union(recall, [ranked[n] for n in served], served, queries, options)
    notes.append(
        f"unions at K have the budget of one source (K candidates): '{ROUND_ROBIN}' interleaves the served "
        f"sources' lists; '{LEARNED}' splits K by shares fitted greedily on the other half of the queries "
        f"(two-fold cross-fitting, pipelines/evaluate/shares.py); shares at K = {k_max}: "
        + ", ".join(f"{n} {v:.0%}" for n, v in shares[k_max].items() if v > 0)
        + f"; all {np.mean([len(u) for u in ranked[ROUND_ROBIN]]):.0f} candidates together reach recall "
        f"{rt.recall_at(ranked[ROUND_ROBIN], queries.targets, 10**9):.4f}"
    )

    say("ranking: scoring the holdout impressions")
    ndcg, heads, ranking_rows = _ranking(runtime, options, ranking_stages, world, notes)
    evaluation = Evaluation(
        recall,
        ndcg,
        heads,
        notes,
        shares=shares,
        sizes={"queries": len(queries), "ranking_rows": ranking_rows, "corpus": len(corpus)},
    )
    evaluation.report = write_report(
        evaluation, options.report_dir or runtime.settings.home / "reports" / "evaluation"
    )
    return evaluation


def _learned_union(
    recall: pd.DataFrame,
    lists: list[list[np.ndarray]],
    names: list[str],
    queries: rt.Queries,
    options: EvaluateOptions,
) -> pd.DataFrame:
    """Adds the learned-shares union's recall@K to `recall` (a row); returns the mean shares (source × K)."""
    shares = {}
    for k in options.ks:
        merged, quotas = learned_union(lists, queries.targets, k, seed=options.seed)
        recall.loc[LEARNED, k] = rt.recall_at(merged, queries.targets, k)
        shares[k] = pd.Series(mean_shares(quotas, k), index=names)
    return pd.DataFrame(shares)


def _ranking(
    runtime: Runtime,
    options: EvaluateOptions,
    ranking_stages: RankingStages | None,
    world,  # type: ignore[no-untyped-def]
    notes: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """NDCG@K per stage and the per-head table; empty tables (and a note) when the data has no impressions."""
    heads = pd.DataFrame(columns=["auc", "ece", "calibration_ratio", "positive_rate"])
    try:
        rsets = load_sets(runtime, "ranking", until=options.until, holdout_days=options.holdout_days)
    except DatasetError as exc:
        notes.append(f"ranking not evaluated: {exc}")
        return pd.DataFrame(columns=list(options.ndcg_k)), heads, 0
    holdout = rsets.holdout
    value_model = load_value_model()
    gains = rk.realised_utility(holdout, value_model.weights)
    pool = rk.pools(holdout)
    scores: dict[str, np.ndarray] = {
        "random": np.random.default_rng(options.seed).random(len(holdout)),
        "popularity": _popularity_scores(rsets.train, holdout),
    }
    if ranking_stages is not None:
        stage_scores = ranking_stages(runtime, holdout, notes)
        heads = stage_scores.pop("__heads__", heads)
        scores.update(stage_scores)
    if world is not None:
        scores["oracle"] = world.response_model().expected_utility(
            holdout["user_id"].to_numpy(), holdout["video_id"].to_numpy()
        )
    ndcg = pd.DataFrame(
        {k: {name: rk.ndcg_at(s, gains, pool, k) for name, s in scores.items()} for k in options.ndcg_k}
    )
    notes.append(
        f"ranking: {len(holdout):,} holdout impressions in {len(np.unique(pool)):,} user-day pools; "
        f"gain = the realised utility (value model {value_model.source}) of each impression"
    )
    if "re-ranker" in scores and "first stage" in scores:
        k = 20 if 20 in options.ndcg_k else options.ndcg_k[-1]
        _ids, rerank = rk.ndcg_per_pool(scores["re-ranker"], gains, pool, k)
        _ids, first = rk.ndcg_per_pool(scores["first stage"], gains, pool, k)
        diff, lo, hi = rk.paired_bootstrap(rerank, first, seed=options.seed)
        ndcg.attrs[STAGE_GAP] = {"k": k, "diff": diff, "lo": lo, "hi": hi, "pools": len(rerank)}
        notes.append(
            f"re-ranker − first stage NDCG@{k}: {diff:+.4f}, 95 % CI [{lo:+.4f}, {hi:+.4f}] "
            f"(paired bootstrap over the {len(rerank):,} pools, 2,000 resamples)"
        )
    return ndcg, heads, len(holdout)


def _world(runtime: Runtime, name: str | None, notes: list[str]):  # type: ignore[no-untyped-def]
    if name is None:
        return None
    from worldsim import load_world

    try:
        return load_world(runtime.settings.home, name)
    except ConfigError:
        notes.append(f"no simulated world {name!r} under FORYOU_HOME: no oracle rows")
        return None


def _heuristic_sources(
    runtime: Runtime, sets, corpus: rt.Corpus, queries: rt.Queries
) -> dict[str, rt.Source]:  # type: ignore[no-untyped-def]
    positives = pd.concat([sets.train, sets.holdout], ignore_index=True)
    timed = src.TimedEvents(
        positives["event_timestamp"].map(pd.Timestamp.timestamp).to_numpy(dtype=np.float64),
        corpus.rows(positives["video_id"].to_numpy(dtype=np.int64)),
        len(corpus),
    )
    with runtime.engine.connect() as conn:
        views = np.array(
            conn.execute(
                sa.text(
                    "SELECT extract(epoch FROM ts)::float8, video_id FROM events "
                    "WHERE event_type = 'view' AND ts > :start AND ts <= :until"
                ),
                {"start": sets.holdout_start - pd.Timedelta(hours=2), "until": sets.until},
            ).all(),
            dtype=np.float64,
        ).reshape(-1, 2)
    views_timed = src.TimedEvents(views[:, 0], corpus.rows(views[:, 1].astype(np.int64)), len(corpus))
    return {
        "popularity": src.popularity(timed, sets.holdout_start.timestamp()),
        "recent popularity": src.recent_popularity(timed),
        "trending": src.trending(views_timed),
        "fresh": src.fresh(),
        "follow graph": src.follow_graph(runtime.engine, queries),
    }


def _popularity_scores(train: pd.DataFrame, holdout: pd.DataFrame) -> np.ndarray:
    """Engaged impressions per video in the training window."""
    engaged = train[["like", "long_watch", "share", "save"]].sum(axis=1) > 0
    counts = train.loc[engaged, "video_id"].value_counts()
    return holdout["video_id"].map(counts).fillna(0).to_numpy(dtype=np.float64)


def write_report(evaluation: Evaluation, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    images = [report.recall_plot(evaluation.recall, folder / "recall_at_k.png")]
    if len(evaluation.ndcg):
        k = evaluation.ndcg.columns[-1]
        images.append(
            report.bar_plot(
                evaluation.ndcg[k], f"Ranking: NDCG@{k} on holdout pools", "NDCG", folder / "ndcg.png"
            )
        )
    if "__curves__" in evaluation.heads.attrs:
        images.append(
            report.reliability_plot(evaluation.heads.attrs["__curves__"], folder / "calibration.png")
        )
    tables = {"Retrieval recall@K (unions: same budget K as one source)": evaluation.recall}
    if len(evaluation.shares):
        tables["Learned union: share of the budget K per source (mean of the two folds)"] = evaluation.shares
    if len(evaluation.ndcg):
        tables["Ranking NDCG@K"] = evaluation.ndcg
    if len(evaluation.heads):
        tables["Re-ranker heads (holdout)"] = evaluation.heads
    (folder / "metrics.json").write_text(json.dumps(evaluation.metrics(), indent=1))
    return report.write_html(
        folder / "index.html", "foryou offline evaluation", evaluation.notes, tables, images
    )
