"""foryou: a feature-store-centric platform for a short-video For You feed."""

import os as _os

# TFRS needs Keras 2 (tf-keras): this must be set before TensorFlow is first imported, and every entry point
# (the CLI, the server, training, tests) imports foryou first.
_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ start-up chatter (no CUDA driver, oneDNN notes) hides our progress bars; errors still show.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
