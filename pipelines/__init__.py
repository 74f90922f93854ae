"""Offline jobs: ingest, features, datasets, train, index, evaluate — each a CLI subcommand."""
