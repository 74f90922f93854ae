"""The value model: how the re-ranker's heads add up to one utility, read from foryou/value_model.toml.

    vm = load_value_model()                # the shipped file (or a path)
    vm.utility({"like": p_like, …})        # Σ weight × head, one number per candidate

Training (the first stage distils this utility) and serving (the final ordering) read the same file, and the
re-ranker's artifact keeps a copy of the one it was measured with. Every head must be named in the file,
with a finite weight (0 turns a head off): a typo must not silently drop a head from the feed.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foryou.errors import ConfigError

DEFAULT_PATH = Path(__file__).with_name("value_model.toml")
# The re-ranker's heads, named after their training labels (pipelines/datasets/labels.py RANKING_LABELS).
BINARY_HEADS = ("like", "long_watch", "share", "save", "comment", "follow")
REGRESSION_HEADS = ("watch_time_s",)  # expected watch time in seconds
HEADS = BINARY_HEADS + REGRESSION_HEADS


@dataclass(frozen=True)
class ValueModel:
    """Validated head weights; `source` names the file they came from (for error messages and manifests)."""

    weights: dict[str, float]
    source: str = "<memory>"

    def utility(self, heads: Mapping[str, np.ndarray]) -> np.ndarray:
        """Σ weight × head output; every weighted head must be present."""
        return utility(heads, self.weights)


def utility(heads: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Σ weights[h] · heads[h] over the weighted heads (float64, one value per row)."""
    missing = [h for h, w in weights.items() if w != 0 and h not in heads]
    if missing:
        raise ConfigError(
            f"Utility needs heads {missing} (weighted in the value model) but got only {sorted(heads)}."
        )
    total: np.ndarray | None = None
    for head, weight in weights.items():
        if weight == 0:
            continue
        term = weight * np.asarray(heads[head], dtype=np.float64).reshape(-1)
        total = term if total is None else total + term
    if total is None:  # every weight is 0: a flat utility (one value per row of any head)
        return np.zeros(len(np.asarray(next(iter(heads.values()))).reshape(-1)))
    return total


def parse_value_model(data: Mapping[str, object], source: str = "<memory>") -> ValueModel:
    """Validate a parsed TOML document: a [weights] table naming every head with a finite number."""
    unknown_tables = sorted(set(data) - {"weights"})
    if unknown_tables:
        raise ConfigError(f"{source}: unknown top-level keys {unknown_tables}; only [weights] is read.")
    table = data.get("weights")
    if not isinstance(table, Mapping):
        raise ConfigError(
            f"{source}: no [weights] table. Write one weight per head: "
            f"{', '.join(f'{h} = …' for h in HEADS)}."
        )
    unknown = sorted(set(table) - set(HEADS))
    missing = [h for h in HEADS if h not in table]
    problems = []
    if unknown:
        problems.append(f"unknown heads {unknown} (the heads are: {', '.join(HEADS)})")
    if missing:
        problems.append(f"missing heads {missing} (write `<head> = 0` to turn a head off)")
    weights: dict[str, float] = {}
    for head in HEADS:
        value = table.get(head)
        if head not in table:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{head} = {value!r} is not a number")
        elif not math.isfinite(value):
            problems.append(f"{head} = {value} is not finite")
        else:
            weights[head] = float(value)
    if problems:
        raise ConfigError(f"{source}: invalid value model: {'; '.join(problems)}.")
    if not any(weights.values()):
        raise ConfigError(f"{source}: every weight is 0, so every candidate would have the same utility.")
    return ValueModel(weights, source)


def load_value_model(path: Path | str | None = None) -> ValueModel:
    """Read and validate a value-model TOML file (default: foryou/value_model.toml)."""
    file = Path(path) if path is not None else DEFAULT_PATH
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError(f"Cannot read the value model {file}: {exc.strerror or exc}.") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}.") from exc
    return parse_value_model(data, str(file))
