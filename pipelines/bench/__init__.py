"""Benchmarks: our path against the stock baseline, measured in the same run on the same data."""
