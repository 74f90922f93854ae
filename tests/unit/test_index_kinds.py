"""Index kinds without services: parameters, edits, recall measurement and tuning, on seeded vectors."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.index.kinds import (
    IndexSpec,
    RecallSample,
    default_spec,
    edited_index,
    ivf_nlist,
    new_index,
    stored_vectors,
    tune_search,
)


def vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize(
    ("n", "nlist"),
    [
        (10, 1),  # fewer than 39 points: one list
        (300, 7),  # 4·√300 ≈ 69 → 64, capped at 300 // 39 = 7
        (20_000, 512),  # 4·√20k ≈ 566 → 512 (= 20000 // 39 too)
        (1_000_000, 4096),  # 4·√1M = 4000 → 4096
        (10_000_000, 16384),  # 4·√10M ≈ 12649 → 16384
    ],
)
def test_ivf_nlist(n: int, nlist: int) -> None:
    assert ivf_nlist(n) == nlist


def test_default_spec_caps_nprobe_and_rejects_unknown_kinds() -> None:
    assert default_spec("ivf", 300) == IndexSpec("ivf", {"nlist": 7}, {"nprobe": 7})
    assert default_spec("hnsw", 5).search == {"efSearch": 128}
    with pytest.raises(ValueError, match="choose one of: ivf, hnsw"):
        default_spec("lsh", 5)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_edit_removes_and_adds_without_touching_the_original(kind: str) -> None:
    x = vectors(400)
    ids = np.arange(1000, 1400, dtype=np.int64)
    spec = default_spec(kind, len(x))
    old = new_index(spec, ids, x)
    extra = vectors(3, seed=1)
    new = edited_index(old, spec, np.array([1000, 1001]), np.array([5, 6, 7]), extra)
    assert old.ntotal == 400 and new.ntotal == 401
    got_ids, got = stored_vectors(new, kind)
    assert sorted(got_ids.tolist()) == [5, 6, 7, *range(1002, 1400)]
    np.testing.assert_array_equal(got[np.argsort(got_ids)][:3], extra)
    _, found = new.search(extra, 1)
    assert found[:, 0].tolist() == [5, 6, 7]


def test_recall_of_exact_search_is_one_and_tuning_raises_the_knob() -> None:
    import faiss

    x = vectors(4000, dim=16)
    ids = np.arange(len(x), dtype=np.int64)
    sample = RecallSample.draw(ids, x, 50)
    exact = faiss.IndexIDMap(faiss.IndexFlatIP(16))
    exact.add_with_ids(x, ids)
    assert sample.k == 100 and sample.recall(exact) == 1.0
    spec = IndexSpec("ivf", {"nlist": 64}, {"nprobe": 1})
    index = new_index(spec, ids, x)
    tuned, recall, tried = tune_search(index, spec, sample, target=0.9)
    assert recall >= 0.9 and tuned.search["nprobe"] > 1
    assert list(tried) == [str(2**i) for i in range(len(tried))]  # 1, 2, 4, … until the target
    assert list(tried.values()) == sorted(tried.values())
    _, _, all_lists = tune_search(index, spec, sample, target=1.01)  # unreachable: stops at nlist
    assert list(all_lists)[-1] == "64" and all_lists["64"] == 1.0
