"""Materialization: latest feature rows from Postgres into Feast's Redis layout, set-based and vectorised."""
