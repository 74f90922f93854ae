"""Training sets: labels computed in Postgres, features by Feast's point-in-time join, written as Parquet.

    build_dataset(settings, stores, engine, task="ranking"|"retrieval", until=…, since=…, out=…)

labels.py holds the label SQL; build.py the orchestration. Definitions in docs/datasets.md.
"""
