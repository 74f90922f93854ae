"""foryou simulate against real Postgres: byte-identical tables per seed, all-or-nothing loads, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.progress import Progress

from foryou.db import make_engine
from foryou.scratch import scratch_database
from tests.conftest import run_cli, table_count
from worldsim import WorldConfig, load_world, simulate_into_database, world_dir
from worldsim.loader import WorldExistsError

pytestmark = pytest.mark.integration

TINY = WorldConfig(seed=7, n_users=250, n_creators=25, n_videos=1_200, days=2)
PRIMARY_KEYS = {
    "users": "user_id",
    "creators": "creator_id",
    "videos": "video_id",
    "follows": "user_id, creator_id",
    "blocks": "user_id, creator_id",
    "events": "event_id",
}


def checksums(engine: sa.Engine) -> dict[str, str | None]:
    """md5 of every row's text form, in primary-key order, per table."""
    with engine.connect() as conn:
        return {
            table: conn.execute(
                sa.text(f"SELECT md5(string_agg(t::text, '|' ORDER BY {pk})) FROM {table} t")
            ).scalar()
            for table, pk in PRIMARY_KEYS.items()
        }


def test_same_seed_gives_identical_tables_and_replace_swaps_worlds(
    engine: sa.Engine,
    server_urls,
    template_database: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    simulate_into_database(engine, TINY, tmp_path / "a")
    first = checksums(engine)
    assert all(first.values())
    with scratch_database(server_urls.database_url, "foryou_t", template=template_database) as url:
        other = make_engine(url)
        try:
            simulate_into_database(other, TINY, tmp_path / "b")
            assert checksums(other) == first  # a fresh database, same seed: byte-identical rows

            with pytest.raises(WorldExistsError, match="--replace"):
                simulate_into_database(other, TINY, tmp_path / "b")
            assert checksums(other) == first

            reseeded = WorldConfig(**{**TINY.__dict__, "seed": 8})
            simulate_into_database(other, reseeded, tmp_path / "b", replace=True)
            changed = checksums(other)
            assert all(changed[t] != first[t] for t in PRIMARY_KEYS)
            assert load_world(tmp_path / "b").config.seed == 8

            simulate_into_database(other, TINY, tmp_path / "b", replace=True)
            assert checksums(other) == first
        finally:
            other.dispose()


def test_loaded_world_keeps_its_promises(engine: sa.Engine, tmp_path: Path) -> None:
    report = simulate_into_database(engine, TINY, tmp_path)
    for table, rows in report.rows.items():
        assert table_count(engine, table) == rows
    assert report.rows["events"] == sum(report.events_by_type.values()) > 1_000
    queries = {
        # every follow event is a follows row with the same user, creator (of the video) and time
        "follow events without a follows row": """
            SELECT count(*) FROM events e JOIN videos v USING (video_id)
            LEFT JOIN follows f ON f.user_id = e.user_id AND f.creator_id = v.creator_id AND f.ts = e.ts
            WHERE e.event_type = 'follow' AND f.user_id IS NULL""",
        "impressions outside allowed regions": """
            SELECT count(*) FROM events e JOIN videos v USING (video_id)
            WHERE v.allowed_regions IS NOT NULL AND NOT (e.region = ANY (v.allowed_regions))""",
        "flagged videos shown": "SELECT count(*) FROM events JOIN videos v USING (video_id) WHERE v.flagged",
        "events before the upload": """
            SELECT count(*) FROM events e JOIN videos v USING (video_id) WHERE e.ts < v.uploaded_at""",
        "events in another region than the user's": """
            SELECT count(*) FROM events e JOIN users u USING (user_id) WHERE e.region <> u.region""",
        "impressions without a propensity in (0, 1]": """
            SELECT count(*) FROM events WHERE event_type = 'impression'
            AND (propensity IS NULL OR propensity <= 0 OR propensity > 1)""",
        "non-impressions with a propensity": """
            SELECT count(*) FROM events WHERE event_type <> 'impression' AND propensity IS NOT NULL""",
        "requests with a position twice": """
            SELECT count(*) FROM (SELECT request_id, position FROM events WHERE event_type = 'impression'
                                  GROUP BY 1, 2 HAVING count(*) > 1) d""",
        "followed and blocked": "SELECT count(*) FROM follows JOIN blocks USING (user_id, creator_id)",
        "foreign event ids": f"SELECT count(*) FROM events WHERE event_id NOT LIKE 'sim-{TINY.seed}-%'",
    }
    with engine.connect() as conn:
        problems = {name: conn.execute(sa.text(sql)).scalar() for name, sql in queries.items()}
        restricted = conn.execute(
            sa.text("SELECT count(*) FROM videos WHERE allowed_regions IS NOT NULL")
        ).scalar()
        vector_dims = conn.execute(
            sa.text(
                "SELECT DISTINCT array_length(visual_vec, 1), array_length(text_vec, 1), "
                "array_length(audio_vec, 1) FROM videos"
            )
        ).all()
    assert problems == dict.fromkeys(queries, 0)
    assert restricted > 0 and vector_dims == [(32, 32, 16)]
    meta = json.loads((world_dir(tmp_path) / "world.json").read_text())
    assert meta["seed"] == TINY.seed and meta["summary"]["rows"] == report.rows


class _FailOnDay(Progress):
    """A progress display that breaks after the first simulated day has been COPYed."""

    def update(self, task_id, **kwargs):  # type: ignore[no-untyped-def, override]
        description = kwargs.get("description") or ""
        if description.startswith("simulate and load days ("):
            raise RuntimeError("disk full (simulated)")
        return super().update(task_id, **kwargs)


def test_a_failure_midway_writes_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="simulated"), _FailOnDay(disable=True) as progress:
        simulate_into_database(engine, TINY, tmp_path, progress=progress)
    assert {t: table_count(engine, t) for t in PRIMARY_KEYS} == dict.fromkeys(PRIMARY_KEYS, 0)
    assert not (tmp_path / "worlds").exists() or not any((tmp_path / "worlds").iterdir())


def test_cli_simulates_and_refuses_to_mix_worlds(
    cli_env: dict[str, str], engine: sa.Engine, settings
) -> None:  # type: ignore[no-untyped-def]
    args = ["simulate", "--users", "150", "--creators", "15", "--videos", "600", "--days", "1", "--seed", "3"]
    result = run_cli(args, cli_env, check=True)
    assert "events by type" in result.stdout and "impression" in result.stdout
    assert table_count(engine, "users") == 150 and table_count(engine, "videos") == 600
    assert load_world(settings.home).config.n_users == 150
    again = run_cli(args, cli_env)
    assert again.returncode == 6 and "--replace" in again.stderr
    assert table_count(engine, "users") == 150  # the refused run changed nothing
