"""Feature pipelines: set-based SQL inside Postgres that writes the timestamped tables in schema `features`.

    build(engine, until=…, views=…, gate=…)    incremental, idempotent build of every view up to `until`

One module per view holds its SQL (user_stats, creator_stats, video_stats, video_velocity); docs/features.md
defines every column, its window and its unit.
"""
