"""Alembic environment for the foryou event-log schema (a package so it ships with the distribution)."""
