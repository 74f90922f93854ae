"""Offline evaluation on a time-based holdout: retrieval recall per path and union, ranking NDCG, heads."""
