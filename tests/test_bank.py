"""The k-NN memory bank: blocked distances equal the full matrix, the coreset covers the
normal set, and a detector with a reduced bank saves, loads and scores."""

from __future__ import annotations

import numpy as np
import pytest

from skelprompt.detector import Detector, DetectorConfig
from skelprompt.detector.bank import greedy_coreset, normal_bank
from skelprompt.detector.scorers import make_scorer
from skelprompt.model import untrained_model
from skelprompt.pose_descriptor import descriptor_variants, descriptors
from skelprompt.scoring import knn_distance
from tests.helpers import NORMAL_SBU, sbu_clips


def full_matrix_knn(x: np.ndarray, ref: np.ndarray, k: int, own: np.ndarray | None) -> np.ndarray:
    """The whole [len(x), len(ref)] distance matrix at once (the implementation before blocks);
    ``own[i, j]``: reference row j is one of x row i's own rows."""
    d = np.sqrt(np.maximum((x * x).sum(1)[:, None] + (ref * ref).sum(1)[None] - 2.0 * x @ ref.T, 0.0))
    if own is not None:
        d[own] = np.inf
    kk = max(1, min(k, int(np.isfinite(d[0]).sum())))
    return np.partition(d, kk - 1, axis=1)[:, :kk].mean(1)


@pytest.fixture(scope="module")
def pose() -> tuple[np.ndarray, np.ndarray]:
    """Raw-pose descriptors of 60 real SBU clips and their [4, 60, D] variants."""
    x = descriptors(sbu_clips()[:60], 2, order_by_x=True)
    return x, descriptor_variants(x, 2)


def test_blocked_distances_equal_the_full_matrix(pose) -> None:
    x, variants = pose
    bank, groups = variants.reshape(-1, x.shape[1]), np.tile(np.arange(len(x)), 4)
    for block in (1, 97, 10**9):  # one row per block, blocks that do not divide, one block
        np.testing.assert_allclose(
            knn_distance(x, bank, 5, block_entries=block), full_matrix_knn(x, bank, 5, None)
        )
        np.testing.assert_allclose(
            knn_distance(x, x, 3, exclude_self=True, block_entries=block),
            full_matrix_knn(x, x, 3, np.eye(len(x), dtype=bool)),
        )
        # cross-fitted: each clip skips its own four rows (itself, mirrored, swapped, both)
        crossed = knn_distance(
            x, bank, 5, x_groups=np.arange(len(x)), reference_groups=groups, block_entries=block
        )
        np.testing.assert_allclose(
            crossed, full_matrix_knn(x, bank, 5, groups[None] == np.arange(len(x))[:, None])
        )
    scorer = make_scorer("knn", k=5).fit(bank, groups)
    assert (scorer.cross_fitted(x) > 1e-6).all()  # its own copies never count as neighbours


def test_coreset_keeps_bank_size_rows_and_covers_better_than_random(pose) -> None:
    x, variants = pose
    full = variants.reshape(-1, x.shape[1])
    rows, groups, total = normal_bank(DetectorConfig(bank_size=24), "pose", x, {}, reduce=True)
    assert rows.shape == (24, x.shape[1]) and total == len(full) == 240
    # every kept row is the variant row of the clip its group names
    for row, g in zip(rows, groups, strict=True):
        assert min(np.abs(variants[:, g] - row).max(1)) == 0.0

    def radius(kept: np.ndarray) -> float:  # the farthest normal row from the kept rows
        return float(knn_distance(full, kept, 1).max())

    rng = np.random.default_rng(0)
    random_radii = [radius(full[rng.choice(len(full), 24, replace=False)]) for _ in range(10)]
    assert radius(rows) < min(random_radii)
    assert len(set(greedy_coreset(full, 50))) == 50 and list(greedy_coreset(full[:10], 50)) == list(range(10))
    same, _, _ = normal_bank(DetectorConfig(bank_size=24), "pose", x, {}, reduce=True)
    np.testing.assert_array_equal(same, rows)  # a fixed seed: the same normal set, the same bank
    exact, _, _ = normal_bank(DetectorConfig(bank_size=240), "pose", x, {}, reduce=True)
    np.testing.assert_array_equal(exact, full)  # no more rows than the bank size: all of them


def test_a_detector_with_a_coreset_bank_saves_loads_and_scores(tmp_path) -> None:
    clips = sbu_clips()
    normal = [c for c in clips if c.label in NORMAL_SBU][:30]
    test = [c for c in clips if c.label not in NORMAL_SBU][:5] + normal[:3]
    model = untrained_model("small", seed=1, embed_dims=(16, 32), num_blocks=1)
    det = Detector(model, DetectorConfig(bank_size=16)).fit(normal)
    assert {s: len(sc.normal) for s, sc in det.scorers.items()} == {"pose": 16, "model": 16}
    assert det.info["memory_bank"] == {"pose": {"rows": 16, "of": 120}, "model": {"rows": 16, "of": 60}}
    det.save(tmp_path / "d.safetensors")
    back = Detector.load(tmp_path / "d.safetensors", expect_model=model)
    assert back.config.bank_size == 16 and back.checksum() == det.checksum()
    a, b = det.score(test), back.score(test)
    np.testing.assert_allclose(a.anomaly, b.anomaly, rtol=1e-6)
    assert np.isfinite(a.anomaly).all() and a.threshold == pytest.approx(b.threshold)


def test_a_detector_file_from_before_bank_size_loads_with_its_checksum(tmp_path) -> None:
    """Files written before the option have no bank_size in their config: they load, score the
    same and keep their checksum."""
    import json

    from skelprompt.model.checkpoint import load_tensors, read_safetensors_metadata, save_tensors

    normal = [c for c in sbu_clips() if c.label in NORMAL_SBU][:12]
    det = Detector(untrained_model("small", seed=1, embed_dims=(16, 32), num_blocks=1)).fit(normal)
    det.save(tmp_path / "new.safetensors")
    meta = read_safetensors_metadata(tmp_path / "new.safetensors")
    config = json.loads(meta["detector_config"])
    del config["bank_size"]
    save_tensors(tmp_path / "old.safetensors", load_tensors(tmp_path / "new.safetensors"),
                 {**meta, "detector_config": json.dumps(config)})  # fmt: skip
    old = Detector.load(tmp_path / "old.safetensors")
    assert old.checksum() == det.checksum()
    np.testing.assert_allclose(old.score(normal[:4]).anomaly, det.score(normal[:4]).anomaly, rtol=1e-6)
