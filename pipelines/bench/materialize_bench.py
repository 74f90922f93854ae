"""`foryou bench materialize`: rows/s of our materialize against stock `FeatureStore.materialize`, same rows.

Both runs read the same window [2000-01-01, end] of the same views (latest row per entity) from the same
Postgres; stock writes into Redis db A, ours into db B (both flushed first), each against its own copy of the
registry in a scratch home, so the real registry's watermarks are untouched.
Ours is then checked byte-for-byte
against stock's Redis contents (a benchmark that writes the wrong bytes is not a result).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pipelines.bench.result import BenchResult

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _redis_url(redis_url: str, db: int) -> str:
    return redis_url.rsplit("/", 1)[0] + f"/{db}"


def scratch_store(settings, stores, db: int, home: Path):  # type: ignore[no-untyped-def]
    """A FeatureStore over a copy of the registry in `home`, writing to Redis db `db` (flushed)."""
    import redis

    from foryou import feast_repo

    url = _redis_url(stores.redis_url, db)
    redis.Redis.from_url(url).flushdb()
    (home / "feast").mkdir(parents=True, exist_ok=True)
    registry = settings.home / "feast" / "registry.db"
    if not registry.exists():
        raise FileNotFoundError(
            f"no registry at {registry}; run `foryou features repo apply` (feast apply) first"
        )
    shutil.copy(registry, home / "feast" / "registry.db")
    s = settings.model_copy(update={"home": home, "redis_url": url})
    st = type(stores)(**{**stores.__dict__, "redis_url": url})
    return feast_repo.feature_store(s, st), url


def dump(redis_url: str) -> dict[bytes, dict[bytes, bytes]]:
    import redis

    client = redis.Redis.from_url(redis_url)
    return {key: client.hgetall(key) for key in client.scan_iter(count=1000)}  # type: ignore[misc]


def run_materialize_bench(
    settings,  # type: ignore[no-untyped-def]
    stores,
    *,
    views: list[str] | None = None,
    end: datetime | None = None,
    stock_db: int = 7,
    ours_db: int = 8,
    verify: bool = True,
) -> list[BenchResult]:
    from pipelines.materialize.materialize import materialize

    end = end or datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="foryou-bench-mat-") as tmp:
        stock, stock_url = scratch_store(settings, stores, stock_db, Path(tmp) / "stock")
        ours, ours_url = scratch_store(settings, stores, ours_db, Path(tmp) / "ours")
        names = views or sorted(fv.name for fv in stock.list_feature_views() if fv.online)
        t0 = time.perf_counter()
        results = materialize(ours, stores.database_url, end=end, views=names, start=EPOCH, record=False)
        ours_s = time.perf_counter() - t0
        rows = sum(r.rows_read for r in results)
        t0 = time.perf_counter()
        stock.materialize(EPOCH, end, feature_views=names)
        stock_s = time.perf_counter() - t0
        identical = dump(ours_url) == dump(stock_url) if verify else None
        import redis

        for url in (stock_url, ours_url):
            redis.Redis.from_url(url).flushdb()
    details = {
        "rows": rows,
        "views": names,
        "ours_seconds": round(ours_s, 3),
        "stock_seconds": round(stock_s, 3),
        "redis_identical": identical,
        "load_avg_1m": round(os.getloadavg()[0], 2),  # the 2-core machine is shared
        "per_view": {
            r.view: {
                "rows": r.rows_read,
                "seconds": round(r.seconds, 3),
                **{k: round(v, 3) for k, v in r.timings.items()},
            }
            for r in results
        },
    }
    if verify and not identical:
        raise AssertionError(
            "our materialize wrote different Redis contents than stock; not reporting a figure"
        )
    return [
        BenchResult(
            metric="materialize throughput",
            unit="rows/s",
            ours=rows / ours_s,
            baseline=rows / stock_s,
            higher_is_better=True,
            baseline_name="feast FeatureStore.materialize (local engine → Redis)",
            details=details,
        )
    ]
