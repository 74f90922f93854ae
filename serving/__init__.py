"""Online serving: request-path code only (no training or offline-pipeline imports)."""
