import json

from pipelines.bench.result import BenchResult


def test_ratio_for_throughput_is_ours_over_baseline() -> None:
    result = BenchResult(
        "rows", "rows/s", ours=1000.0, baseline=100.0, higher_is_better=True, baseline_name="x"
    )
    assert result.ratio == 10.0


def test_ratio_for_latency_is_baseline_over_ours() -> None:
    result = BenchResult("p99", "ms", ours=5.0, baseline=170.0, higher_is_better=False, baseline_name="x")
    assert result.ratio == 34.0


def test_json_line_has_the_contract_keys() -> None:
    result = BenchResult("p99", "ms", 5.0, 20.0, False, "stock", details={"n": 3})
    record = json.loads(result.as_json())
    assert {"metric", "unit", "ours", "baseline", "ratio"} <= record.keys()
    assert record["ratio"] == 4.0 and record["n"] == 3
