"""The point encoder and model files."""

from __future__ import annotations

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
