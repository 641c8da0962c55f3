"""The point encoder and model files."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from skelprompt.errors import ModelError
from skelprompt.model import extract_features, load_model, save_model, untrained_model
from skelprompt.points import clips_to_batch
from tests.helpers import sbu_clips


def test_encoder_is_invariant_to_point_order() -> None:
    model = untrained_model(seed=1)
    pts, mask = clips_to_batch(sbu_clips()[:4])
    perm = np.random.default_rng(0).permutation(pts.shape[1])
    with torch.no_grad():
        a = model.features(torch.from_numpy(pts), torch.from_numpy(mask))
        b = model.features(torch.from_numpy(pts[:, perm]), torch.from_numpy(mask[:, perm]))
        # padding rows never matter, whatever their values
        junk = pts.copy()
        junk[~mask] = 0.77
        c = model.features(torch.from_numpy(junk), torch.from_numpy(mask))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)


def test_chunked_inference_matches_the_training_path() -> None:
    model = untrained_model(seed=2)
    pts, mask = clips_to_batch(sbu_clips()[:6])
    p, m = torch.from_numpy(pts), torch.from_numpy(mask)
    with torch.no_grad():
        chunked = model.encoder(p, m, chunk_points=1)
    with torch.enable_grad():
        full = model.encoder(p, m).detach()
    torch.testing.assert_close(chunked, full, atol=1e-5, rtol=1e-5)


def test_model_file_round_trip_and_errors(tmp_path) -> None:
    model = untrained_model("small", seed=3, num_classes=5)
    path = tmp_path / "m.safetensors"
    save_model(path, model, {"note": "test"})
    back = load_model(path)
    assert back.provenance == {"note": "test"}
    f1, _ = extract_features(model, sbu_clips()[:3])
    f2, _ = extract_features(back, sbu_clips()[:3])
    np.testing.assert_allclose(f1, f2, atol=1e-6)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(ModelError, match="bad.safetensors"):
        load_model(bad)
    short = tmp_path / "short.safetensors"
    short.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(ModelError, match="short.safetensors"):
        load_model(short)


def _global_seeded(build, seed: int):
    """What the code did before: reseed the global generator, then build (state restored)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


@pytest.mark.parametrize("preset, seed", [("small", 0), ("small", 5), ("paper", 1)])
def test_seeded_weights_equal_the_global_seed_ones_and_leave_the_global_generator_alone(preset, seed) -> None:
    from skelprompt.detector.sources import RANDOM_ENCODER_SEED, random_encoder
    from skelprompt.evaluation.peer import _GRUAutoencoder
    from skelprompt.model import PRESETS, SkeletonTextModel
    from skelprompt.model.seeded import seeded

    cfg = PRESETS[preset]
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    model = untrained_model(preset, seed=seed, num_classes=7)
    enc = random_encoder(cfg)
    gru = seeded(lambda: _GRUAutoencoder(20, 16), seed)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's random stream is untouched
    pairs = [
        (model, _global_seeded(lambda: SkeletonTextModel(model.cfg), seed)),
        (enc, _global_seeded(lambda: SkeletonTextModel(enc.cfg), RANDOM_ENCODER_SEED)),
        (gru, _global_seeded(lambda: _GRUAutoencoder(20, 16), seed)),
    ]
    for new, old in pairs:
        a, b = new.state_dict(), old.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(
        model.state_dict()["projection.0.weight"],
        untrained_model(preset, seed=seed + 1).state_dict()["projection.0.weight"],
    )


def test_text_encoder_loads_offline_without_changing_the_environment() -> None:
    """No hub look-up (every connection is refused) and no offline switch set for the process."""
    import subprocess
    import sys

    code = """
import os, socket
import sentence_transformers  # its own import may set variables; ours must not
def refuse(self, *a, **k):
    raise OSError("no network in this test")
socket.socket.connect = refuse
before = dict(os.environ)
from skelprompt.model.text import get_text_encoder
emb = get_text_encoder().encode(["a person falling down"])
assert emb.shape == (1, 384), emb.shape
assert dict(os.environ) == before, {k: v for k, v in os.environ.items() if before.get(k) != v}
print("ok")
"""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]
