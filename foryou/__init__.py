"""foryou: a feature-store-centric platform for a short-video For You feed."""

__version__ = "0.1.0"
