"""The pretraining recipe's pieces: multi-positive loss, rich texts, synthetic pairs, 2D-domain
augmentations, recording-level split, best-epoch selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skelprompt.clip import Clip
from skelprompt.layouts import get_layout
from skelprompt.pretrain.loss import contrastive_loss


def _unit(rng: np.random.Generator, n: int, d: int = 8) -> torch.Tensor:
    x = torch.from_numpy(rng.normal(size=(n, d)))
    return x / x.norm(dim=1, keepdim=True)


def test_multi_positive_equals_old_loss_when_every_class_appears_once():
    rng = np.random.default_rng(0)
    emb, text = _unit(rng, 5), _unit(rng, 5)
    labels, scale = torch.tensor([3, 1, 4, 0, 2]), torch.tensor(np.log(10.0))
    old, _, _ = contrastive_loss(emb, text, labels, scale)
    new, _, _ = contrastive_loss(emb, text, labels, scale, multi_positive=True)
    assert torch.allclose(old, new)


def test_multi_positive_spreads_the_target_over_same_class_texts():
    rng = np.random.default_rng(1)
    emb, text = _unit(rng, 3), _unit(rng, 3)
    labels, scale = torch.tensor([0, 0, 1]), torch.tensor(0.0)  # exp(0) = 1
    s = (emb @ text.t()).numpy()
    target = np.array([[0.5, 0.5, 0], [0.5, 0.5, 0], [0, 0, 1.0]])

    def soft_ce(logits: np.ndarray) -> float:
        logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        return float(-(target * logp).sum(1).mean())

    expected = (soft_ce(s) + soft_ce(s.T)) / 2
    new, _, _ = contrastive_loss(emb, text, labels, scale, multi_positive=True)
    old, _, _ = contrastive_loss(emb, text, labels, scale)
    assert float(new) == pytest.approx(expected, rel=1e-9)
    assert abs(float(new) - float(old)) > 1e-3


def test_rich_bank_samples_among_a_class_texts_and_drops_shared_ones(tmp_path, monkeypatch):
    from skelprompt.model.text import get_text_encoder
    from skelprompt.pretrain.texts import RichTextBank

    monkeypatch.setenv("SKELPROMPT_CACHE", str(tmp_path))
    desc = {"kicking": ["kick one", "kick two", "shared"], "waving": ["wave one", "shared"]}
    bank = RichTextBank(["kicking", "waving"], get_text_encoder(), desc, description_p=1.0)
    assert bank.descriptions == [["kick one", "kick two"], ["wave one"]]
    rows = bank.sample_rows(np.zeros(200, int), np.ones(200, int), np.random.default_rng(0))
    picked = {bank.texts[r] for r in rows}
    assert picked == {"kick one", "kick two"}
    mean = bank.embeddings[[bank.texts.index(t) for t in bank.texts_of(1)]].mean(0)
    assert np.allclose(bank.class_embeddings[1], mean / np.linalg.norm(mean), atol=1e-6)
    again = RichTextBank(["kicking", "waving"], get_text_encoder(), desc)  # from the cache
    assert np.array_equal(again.embeddings, bank.embeddings) and len(list(tmp_path.rglob("*.npy"))) == 1


def test_mapped_descriptions_cover_the_pool_without_synonyms(data_root):
    from skelprompt.pretrain.texts import mapped_descriptions

    keys = {"hugging": {"sbu/hugging"}, "shaking hands": {"sbu/shaking hands", "k3hi/shaking"}}
    d = mapped_descriptions(data_root, keys, ("exact", "close"))
    assert len(d["hugging"]) >= 10 and len(d["shaking hands"]) >= 10
    assert "embracing" not in d["shaking hands"]  # a GAP "synonym" of shaking hands


def _person(x0: float, facing_camera: bool = True, t: int = 20) -> np.ndarray:
    """A canonical 13-joint standing person [T, 13, 3] in camera metres, facing the camera."""
    lay = get_layout("canonical13")
    pts = {"head": (0, 0.7), "shoulder": (0.2, 0.5), "elbow": (0.25, 0.2), "wrist": (0.25, -0.05),
           "hip": (0.12, 0.0), "knee": (0.12, -0.45), "ankle": (0.12, -0.9)}  # fmt: skip
    xyz = np.zeros((t, 13, 3))
    for j, name in enumerate(lay.joints):
        part = name.split("_")[-1]
        dx, y = pts[part]
        # facing the camera: the person's left side is at the image's right (+x)
        sign = 1.0 if name.startswith("left") else -1.0 if name.startswith("right") else 0.0
        xyz[:, j] = (x0 + sign * dx, y, 3.0)
    return xyz


def _clip3d(xyz: np.ndarray, label: str) -> Clip:
    from skelprompt.datasets._common import clip_from_3d

    return clip_from_3d(xyz[None], "canonical13", fps=30.0, label=label, meta={})


def test_synthetic_strike_has_two_persons_at_the_distance_facing_each_other():
    from skelprompt.pretrain.synth_pairs import _hip_centre, heading, person3d, strike_pair

    striker = _clip3d(_person(0.0), "right punch")
    assert heading(person3d(striker)[0]) == pytest.approx(-np.pi / 2)  # facing the camera
    pair = strike_pair(striker, _clip3d(_person(1.0), "neutral stance"), 0.8, np.random.default_rng(3))
    assert pair.num_persons == 2 and pair.keypoint3d is not None and pair.label == "punching"
    a, b = (np.where(pair.keypoint_score[m][..., None] > 0, pair.keypoint3d[m], np.nan) for m in (0, 1))
    ca, cb = _hip_centre(a), _hip_centre(b)
    assert np.hypot(*(ca - cb)[[0, 2]]) == pytest.approx(0.8, abs=1e-4)
    ha, hb = heading(a), heading(b)
    to_b = np.arctan2(cb[2] - ca[2], cb[0] - ca[0])
    assert np.cos(ha - to_b) == pytest.approx(1.0, abs=1e-4) and np.cos(hb - ha) == pytest.approx(
        -1.0, abs=1e-4
    )


def _moving_clip(t: int = 30, speed: float = 10.0) -> Clip:
    rng = np.random.default_rng(0)
    xy = np.tile(_person(0.0, t=t)[..., :2] * np.array([100.0, -100.0]), (1, 1, 1, 1))
    xy = xy + rng.normal(0, 0.01, xy.shape)
    xy[0, :, 6, 0] += np.arange(t) * speed  # the right wrist moves fast; the rest stands still
    return Clip(keypoint=xy.astype(np.float32), keypoint_score=np.ones(xy.shape[:3], np.float32),
                layout="canonical13", fps=30.0)  # fmt: skip


def test_confidence_falls_with_speed():
    from skelprompt.pretrain.augment_pose2d import SpeedOcclusionConfidence

    aug = SpeedOcclusionConfidence(p=1.0)
    slow, fast = (
        aug(_moving_clip(speed=v), np.random.default_rng(0)).keypoint_score[0] for v in (10.0, 20.0)
    )
    assert fast[:, 6].mean() < slow[:, 6].mean() < 0.8 * slow[:, 5].mean()
    assert slow[:, 5].mean() > 0.95  # a still joint keeps its confidence


def test_border_cut_sets_confidence_zero_beyond_the_line():
    from skelprompt.pretrain.augment_pose2d import BorderCut

    clip = _moving_clip()
    for seed in range(8):
        out = BorderCut(p=1.0)(clip, np.random.default_rng(seed))
        cut = out.meta["border_cut"]
        v = clip.keypoint[..., cut["axis"]]
        outside = v > cut["line"] if cut["keep_low"] else v < cut["line"]
        assert outside.any() and (out.keypoint_score[outside] == 0).all()
        assert (out.keypoint_score[~outside] > 0).all()


def test_left_right_swap_swaps_and_limb_jitter_follows_limb_length():
    from skelprompt.pretrain.augment_pose2d import LeftRightSwap, LimbJitter

    clip = _moving_clip()
    out = LeftRightSwap(p=1.0, max_len=30)(clip, np.random.default_rng(0))
    changed = np.flatnonzero((out.keypoint != clip.keypoint).any(axis=(0, 2, 3)))
    assert changed.size and np.array_equal(out.keypoint[0, changed, 1], clip.keypoint[0, changed, 2])
    long_arm = _moving_clip(400, speed=0.0)
    long_arm.keypoint[0, :, 5, 1] += 60.0  # the left forearm is 3x longer than the right one
    out = LimbJitter(p=1.0, sigma=0.1)(long_arm, np.random.default_rng(0))
    d = np.linalg.norm(out.keypoint - long_arm.keypoint, axis=-1)[0]
    lengths = LimbJitter().limb_lengths(long_arm)[0]
    assert d[:, 5].std() / d[:, 6].std() == pytest.approx(lengths[5] / lengths[6], rel=0.15)


def test_frame_rate_and_short_clips():
    from skelprompt.pretrain.augment_pose2d import FrameRateResample, ShortClip

    clip = _moving_clip(90)
    out = FrameRateResample(p=1.0, lo=10.0, hi=10.0)(clip, np.random.default_rng(0))
    assert out.fps == 10.0 and out.num_frames == 30
    short = ShortClip(p=1.0, lo=8, hi=12)(clip, np.random.default_rng(0))
    assert 8 <= short.num_frames <= 12


def test_recording_split_keeps_each_recording_on_one_side(data_root):
    from skelprompt.pretrain.config import PretrainConfig
    from skelprompt.pretrain.data import build_pool, stratified_split
    from skelprompt.pretrain.split import recording_id, split_pool

    pool = build_pool(PretrainConfig(datasets=("nw_ucla", "utkinect")), data_root)
    groups = np.array([recording_id(d, c) for d, c in zip(pool.datasets, pool.clips, strict=True)])
    train, val = split_pool(pool, 0.1, 0, "recording")
    assert len(val) > 0.05 * len(pool.clips) and not set(groups[train]) & set(groups[val])
    assert sorted([*train, *val]) == list(range(len(pool.clips)))
    old_train, old_val = stratified_split(pool.labels, 0.1, 0)
    assert set(groups[old_train]) & set(groups[old_val])  # the clip split leaks NW-UCLA's views


def test_best_epoch_is_kept():
    from skelprompt.model.checkpoint import untrained_model
    from skelprompt.pretrain.selection import BestEpoch

    model, best, kept = untrained_model(seed=0), BestEpoch(), None
    for epoch, score in enumerate([0.2, 0.5, 0.3]):
        with torch.no_grad():
            model.logit_scale.fill_(float(epoch))
        rec = {"val_retrieval": score}
        best.update(model, epoch, rec)
        kept = rec["selected_epoch"]
    assert kept == 2 and best.state is not None and float(best.state["logit_scale"]) == 1.0


def test_the_defaults_are_the_recipe_file_and_the_bundled_model_s_recipe():
    # one recipe: PretrainConfig()'s defaults, which configs/pretrain_default.yaml writes out in
    # full and the bundled model records in its provenance (what made it)
    from dataclasses import replace
    from pathlib import Path

    from skelprompt.model.checkpoint import BUNDLED_MODEL
    from skelprompt.model.metadata import meta_json, read_safetensors_metadata
    from skelprompt.pretrain.config import PretrainConfig

    path = Path(__file__).resolve().parent.parent / "configs" / "pretrain_default.yaml"
    assert PretrainConfig.from_yaml(path) == PretrainConfig()
    if not BUNDLED_MODEL.exists():
        pytest.skip("no bundled model in this build")
    recorded = meta_json(BUNDLED_MODEL, read_safetensors_metadata(BUNDLED_MODEL), "provenance")["config"]
    # the machine-specific fields aside (threads; checksums written only by tests)
    assert replace(PretrainConfig.from_dict(recorded), num_threads=0, checksum_dir="") == PretrainConfig()
