"""Pretraining: the loss against a direct computation, a few real training steps, leave-one-
data-set-out, exact resume, augmentations, the PySKL shard stream and the bundled model."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from skelprompt.model.checkpoint import load_model, model_checksum
from skelprompt.pretrain import PretrainConfig, run_pretrain
from skelprompt.pretrain.loss import contrastive_loss, pretrain_loss

# small and fast: the first recipe's texts, loss, split and epoch choice, no synthetic clips
TINY: dict[str, Any] = dict(
    frames=8,
    train_frames=8,
    batch_size=16,
    max_clips_per_dataset=24,
    warmup_steps=2,
    num_threads=1,
    texts="names",
    contrastive="mask",
    split="clip",
    select="last",
    synth_pairs=0,
    description_p=0.3,
)


def _direct_contrastive(emb, text, labels, scale):
    b = len(labels)
    s = [[scale * float(np.dot(emb[i], text[j])) for j in range(b)] for i in range(b)]
    s2t = t2s = 0.0
    for i in range(b):
        keep = [j for j in range(b) if j == i or labels[j] != labels[i]]
        s2t += -(s[i][i] - math.log(sum(math.exp(s[i][j]) for j in keep)))
        t2s += -(s[i][i] - math.log(sum(math.exp(s[j][i]) for j in keep)))
    return (s2t / b + t2s / b) / 2, s2t / b, t2s / b


def test_loss_matches_direct_computation():
    rng = np.random.default_rng(0)
    b, d = 6, 5
    emb = rng.normal(size=(b, d))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    text = rng.normal(size=(b, d))
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    labels = np.array([0, 1, 0, 2, 1, 0])
    logit_scale = torch.tensor(math.log(7.0), dtype=torch.float64)
    cont, s2t, t2s = contrastive_loss(
        torch.tensor(emb), torch.tensor(text), torch.tensor(labels), logit_scale.double()
    )
    ref = _direct_contrastive(emb, text, labels, 7.0)
    assert float(cont) == pytest.approx(ref[0], rel=1e-9)
    assert float(s2t) == pytest.approx(ref[1], rel=1e-9)
    assert float(t2s) == pytest.approx(ref[2], rel=1e-9)
    # Eq. 5 mixes CE and the contrastive term with alpha; the scale is clamped at 100
    logits = torch.tensor(rng.normal(size=(b, 3)))
    out = {"logits": logits, "embedding": torch.tensor(emb)}
    loss, parts = pretrain_loss(out, torch.tensor(labels), torch.tensor(text), logit_scale.double(), 0.6)
    ce = torch.nn.functional.cross_entropy(logits, torch.tensor(labels))
    assert float(loss) == pytest.approx(0.6 * float(ce) + 0.4 * ref[0], rel=1e-9)
    big = contrastive_loss(
        torch.tensor(emb), torch.tensor(text), torch.tensor(labels), torch.tensor(9.0).double()
    )
    assert float(big[0]) == pytest.approx(_direct_contrastive(emb, text, labels, 100.0)[0], rel=1e-9)


def test_augmentations_keep_missing_joints_and_flip_swaps(data_root):
    from skelprompt.datasets.registry import load_dataset
    from skelprompt.layouts import get_layout
    from skelprompt.pretrain.augment import RandomFlip, RandomView, build_augment
    from skelprompt.pretrain.config import AugmentConfig

    clip = load_dataset("utkinect", data_root)[0]
    rng = np.random.default_rng(0)
    aug = build_augment(AugmentConfig())
    for _ in range(5):
        out = aug(clip, rng)
        out.validate()
        assert np.all(out.keypoint[out.keypoint_score <= 0] == 0)
    flipped = RandomFlip(p=1.0)(clip, rng)
    idx = get_layout(clip.layout).flip_index
    ls, rs = get_layout(clip.layout).index("left_shoulder"), get_layout(clip.layout).index("right_shoulder")
    assert idx[ls] == rs
    np.testing.assert_allclose(flipped.keypoint_score[:, :, ls], clip.keypoint_score[:, :, rs])
    viewed = RandomView(p=1.0, max_yaw=60)(clip, rng)
    assert viewed.keypoint3d is not None and not np.allclose(viewed.keypoint, clip.keypoint)
    assert np.array_equal(clip.keypoint, load_dataset("utkinect", data_root)[0].keypoint)  # input untouched


def test_few_steps_lower_the_loss(data_root):
    from skelprompt.model.text import get_text_encoder
    from skelprompt.points import clips_to_batch
    from skelprompt.pretrain.data import TextBank, build_pool
    from skelprompt.pretrain.loop import build_model, make_optimizer

    cfg = PretrainConfig(datasets=("jhmdb", "k3hi"), **TINY)
    pool = build_pool(cfg, data_root)
    enc = get_text_encoder()
    bank = TextBank(pool.class_names, enc)
    torch.set_num_threads(1)
    model = build_model(cfg, pool.class_names, enc.dim, enc.name)
    opt = make_optimizer(model, cfg)
    rng = np.random.default_rng(0)
    idx = np.arange(len(pool.clips))[:32]
    pts, mask = clips_to_batch([pool.clips[i] for i in idx], model.cfg.points)
    labels = torch.from_numpy(pool.labels[idx])
    text = torch.from_numpy(bank.sample(pool.labels[idx], np.ones(len(idx), int), rng))
    model.train()
    losses = []
    for _ in range(12):
        out = model(torch.from_numpy(pts), torch.from_numpy(mask))
        loss, _ = pretrain_loss(out, labels, text, model.logit_scale, 0.6)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0], losses


def test_leave_one_out_never_loads_the_excluded_set(data_root, tmp_path, monkeypatch):
    from skelprompt.datasets import registry

    loaded = []
    real = registry.load_dataset

    def spy(name, root=None):
        loaded.append(name)
        return real(name, root)

    monkeypatch.setattr(registry, "load_dataset", spy)
    cfg = PretrainConfig(
        datasets=("sbu", "k3hi", "jhmdb"), exclude=("sbu",), epochs=1, stage1_epochs=0, **TINY
    )
    out = tmp_path / "m.safetensors"
    run_pretrain(cfg, out, data_root, command="test", progress=False)
    assert "sbu" not in loaded and set(loaded) == {"k3hi", "jhmdb"}
    model = load_model(out)
    prov = model.provenance
    assert set(prov["datasets"]) == {"k3hi", "jhmdb"} and prov["excluded_datasets"] == ["sbu"]
    assert "hugging" not in model.cfg.class_names  # an SBU-only class
    assert all(set(v) <= {"k3hi", "jhmdb"} for v in prov["classes"].values())
    assert prov["val_top1"] is not None and prov["command"] == "test"


@pytest.mark.parametrize("select", ["last", "best"])
def test_resume_continues_exactly(data_root, tmp_path, select):
    # select "best": the model file holds the kept epoch, training resumes from the last one
    cfg = PretrainConfig(
        **{**TINY, "datasets": ("k3hi", "utkinect"), "epochs": 2, "stage1_epochs": 1, "select": select}
    )
    full, _ = run_pretrain(cfg, tmp_path / "full.safetensors", data_root, progress=False)
    run_pretrain(cfg, tmp_path / "part.safetensors", data_root, progress=False, stop_after=1)
    assert load_model(tmp_path / "part.safetensors").provenance["epochs_done"] == 1
    resumed, summary = run_pretrain(
        cfg, tmp_path / "resumed.safetensors", data_root, resume=tmp_path / "part.safetensors", progress=False
    )
    assert [h["epoch"] for h in summary["history"]] == [1, 2]
    assert model_checksum(resumed) == model_checksum(full)
    assert load_model(tmp_path / "resumed.safetensors").provenance["epochs_done"] == 2
    kept = [
        load_model(tmp_path / f"{n}.safetensors").provenance.get("selected_epoch")
        for n in ("full", "resumed")
    ]
    assert kept[0] == kept[1] and (select == "last" or kept[0] in (1, 2))
    assert model_checksum(load_model(tmp_path / "resumed.safetensors")) == model_checksum(
        load_model(tmp_path / "full.safetensors")
    )


def test_pyskl_shards_convert_and_stream(tmp_path):
    from skelprompt.errors import FileFormatError
    from skelprompt.io.pyskl import save_pyskl
    from skelprompt.pretrain.pyskl_shards import ShardedClipDataset, convert_pyskl_to_shards, read_index
    from tests.helpers import sbu_clips

    clips = sbu_clips()[:23]
    names = sorted({str(c.label) for c in clips})
    split = {"train": [str(c.frame_dir) for c in clips[:15]], "test": [str(c.frame_dir) for c in clips[15:]]}
    pkl = tmp_path / "ann.pkl"
    save_pyskl(pkl, clips, label_names=names, split=split)
    with pytest.raises(FileFormatError):
        convert_pyskl_to_shards(pkl, tmp_path / "shards", shard_size=4)
    idx = convert_pyskl_to_shards(pkl, tmp_path / "shards", 4, layout="openni15", label_names=names,
                                  trust_pickle=True)  # fmt: skip
    index = read_index(idx)
    assert index["num_clips"] == 23 and len(index["shards"]) == 6
    got = list(ShardedClipDataset(idx, shuffle=False, equalize=False))
    assert [c.frame_dir for c in got] == [c.frame_dir for c in clips]
    for a, b in zip(got, clips, strict=True):
        assert a.label == b.label and a.layout == "openni15"
        np.testing.assert_allclose(a.keypoint, b.keypoint)
        np.testing.assert_allclose(a.keypoint_score, b.keypoint_score, atol=1e-3)
    test = list(ShardedClipDataset(idx, split="test", shuffle=False, equalize=False))
    assert [c.frame_dir for c in test] == split["test"]
    # two DDP ranks: disjoint shards, equal counts
    r0 = [c.frame_dir for c in ShardedClipDataset(idx, seed=1, rank=0, world_size=2)]
    r1 = [c.frame_dir for c in ShardedClipDataset(idx, seed=1, rank=1, world_size=2)]
    assert len(r0) == len(r1) > 0 and not set(r0) & set(r1)
    assert len(r0) + len(r1) >= 23 - 4


def test_bundled_model_loads_offline_and_is_deterministic(monkeypatch):
    from skelprompt.model.checkpoint import BUNDLED_MODEL
    from skelprompt.model.features import extract_features
    from tests.helpers import sbu_clips

    if not BUNDLED_MODEL.exists():
        pytest.skip("no bundled model in this build")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = load_model()
    assert model.provenance.get("kind") == "pretrained" and model.cfg.num_classes > 0
    clips = sbu_clips()[:6]
    f1, e1 = extract_features(model, clips)
    f2, e2 = extract_features(load_model(), clips)
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(e1, e2)
