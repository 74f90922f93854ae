"""Model training: each module trains one model on point-in-time training sets and writes an artifact."""
