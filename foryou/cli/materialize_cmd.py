"""foryou materialize: incremental materialization into the Redis online store (cron-friendly, ~10× stock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer

from foryou.errors import ConfigError


def _parse_ts(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(
            f"{option} {value!r} is not an ISO 8601 time; for example 2026-03-01T12:00:00Z"
        ) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


VIEW_OPTION = typer.Option(
    None, "--view", help="Only this feature view (repeatable). Default: every online view."
)


def materialize(
    view: list[str] | None = VIEW_OPTION,
    end: str | None = typer.Option(
        None, "--end", help="Materialize up to this time (ISO 8601; no zone = UTC). Default: now."
    ),
    start: str | None = typer.Option(
        None,
        "--start",
        help="Override the window start (default: the view's last materialized end; first run: end - ttl).",
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per view on stdout."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar per view (stderr)."),
) -> None:
    """Latest row per entity in (last end, end] from Postgres into Redis in Feast's layout; records the
    interval in the registry exactly like `feast materialize-incremental`, so both can be mixed."""
    from foryou import feast_repo
    from foryou.runtime import open_runtime
    from pipelines.materialize.materialize import materialize as run

    end_ts = _parse_ts(end, "--end") or datetime.now(UTC)
    start_ts = _parse_ts(start, "--start")
    runtime = open_runtime()
    store = feast_repo.feature_store(runtime.settings, runtime.stores)
    results = run(
        store,
        runtime.stores.database_url,
        end=end_ts,
        views=view or None,
        start=start_ts,
        show_progress=progress and not as_json,
    )
    for r in results:
        record = {
            "view": r.view,
            "start": r.start.isoformat(),
            "end": r.end.isoformat(),
            "rows_read": r.rows_read,
            "rows_written": r.rows_written,
            "rows_skipped": r.rows_skipped,
            "seconds": round(r.seconds, 3),
        }
        if as_json:
            print(json.dumps(record), flush=True)
        else:
            typer.echo(
                f"{r.view}: {r.start:%Y-%m-%d %H:%M} → {r.end:%Y-%m-%d %H:%M}  read {r.rows_read:,}  "
                f"written {r.rows_written:,}  skipped (not newer) {r.rows_skipped:,}  {r.seconds:.2f}s"
            )


def register(app: typer.Typer) -> None:
    """Add `materialize` to the root CLI."""
    app.command("materialize")(materialize)
