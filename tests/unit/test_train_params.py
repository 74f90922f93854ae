"""`foryou train --param`: KEY=VALUE per model, JSON values, clear errors."""

from __future__ import annotations

import pytest

from foryou.cli.train_cmd import parse_params
from foryou.errors import ConfigError


def test_values_are_json_else_strings_and_routed_per_model() -> None:
    got = parse_params(
        ["epochs=3", 'variants=["mlp"]', "two_tower_rows=in_sample", "recent_similarity=false"], ["reranker"]
    )
    assert got == {
        "reranker": {
            "epochs": 3,
            "variants": ["mlp"],
            "two_tower_rows": "in_sample",
            "recent_similarity": False,
        }
    }
    both = parse_params(["first-stage.rounds=50", "reranker.epochs=2"], ["reranker", "first-stage"])
    assert both == {"reranker": {"epochs": 2}, "first-stage": {"rounds": 50}}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("epochs", "expected KEY=VALUE"),
        ("=3", "expected KEY=VALUE"),
        ("epochs=3", "say which one, MODEL.KEY=VALUE"),
        ("session.epochs=3", "'session' is not being trained"),
    ],
)
def test_malformed_or_unroutable_params_are_config_errors(item: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_params([item], ["reranker", "first-stage"])
