"""Learned prompts (CoOp context on the frozen text encoder) and few-shot anomaly examples, on
real clips, the bundled model and the real text encoder."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from skelprompt.errors import ModelError
from skelprompt.io import save_clips
from skelprompt.prompt_learning.encoder import KINDS, ContextEncoder, initial_context
from skelprompt.prompt_learning.file import LearnedPrompt, load_learned_prompt
from skelprompt.prompt_learning.learn import LearnSettings, learn_on_examples, learn_on_pool
from tests.helpers import NORMAL_SBU, sbu_clips
from tests.test_cli_errors import assert_one_clear_line, run_main

VIOLENT = ("kicking", "punching", "pushing")


@pytest.fixture(scope="module")
def base():
    from skelprompt.model.text import get_text_encoder

    return get_text_encoder()


@pytest.fixture(scope="module")
def model():
    from skelprompt.model import load_model

    return load_model(None)


@pytest.fixture(scope="module")
def sbu_embeddings(model):
    """f(x) of 36 real SBU clips (6 of each of 6 classes) and their class indices."""
    from skelprompt.model.features import extract_features

    classes = ["kicking", "punching", "hugging", "approaching", "departing", "shaking hands"]
    clips = []
    for c in classes:
        clips += [x for x in sbu_clips() if x.label == c][:6]
    emb = extract_features(model, clips)[1]
    labels = np.array([classes.index(str(x.label)) for x in clips])
    return emb, labels, [f"two people {c}" for c in classes]


def test_no_context_is_the_frozen_encoder(base) -> None:
    enc = ContextEncoder(base, initial_context(base, "a person is"))
    words = ["kicking", "falling down", "two people walking together"]
    with torch.no_grad():
        plain = enc.embed_core(words, [0, 0, 1], use_context=False).numpy()
        with_init = enc.embed_core(words, [0, 0, 0]).numpy()
    np.testing.assert_allclose(plain, base.encode(words), atol=1e-5)
    # the context initialised from words is those words' token embeddings
    np.testing.assert_allclose(with_init, base.encode([f"a person is {w}" for w in words]), atol=1e-5)
    assert enc.context.shape == (len(KINDS), 3, base.dim)
    assert [n for n, p in enc.named_parameters() if p.requires_grad] == ["context"]


def test_pool_learning_lowers_the_loss_and_the_file_round_trips(
    base, model, sbu_embeddings, tmp_path
) -> None:
    emb, labels, texts = sbu_embeddings
    enc = ContextEncoder(base, initial_context(base, "", num_context=2, seed=0))
    start = enc.context.detach().clone()
    scale = float(model.logit_scale.detach().exp())
    settings = LearnSettings(steps=8, lr=1e-2, batch_size=36, classes_per_step=6)
    res = learn_on_pool(enc, emb, labels, texts, scale, settings)
    assert res.losses[-1] < res.losses[0] - 0.05, res.losses
    assert not torch.equal(enc.context, start)
    lp = LearnedPrompt(enc.context.detach().clone(), base.name, {"mode": "pool", "steps": 8})
    path = tmp_path / "lp.safetensors"
    lp.save(path)
    back = load_learned_prompt(path)
    assert back.checksum() == lp.checksum() and back.provenance == lp.provenance
    np.testing.assert_array_equal(back.encoder(base).encode(texts), enc.encode(texts))


def test_learning_from_examples_raises_their_evidence(base, model, sbu_embeddings) -> None:
    from skelprompt.prompts import NORMAL_ANCHORS
    from skelprompt.scoring import softmax_evidence

    emb, labels, _ = sbu_embeddings
    anomaly, normal = emb[labels == 0][:5], emb[labels >= 2]  # 5 kicking examples
    prompts = ["kicking another person"]
    enc = ContextEncoder(base, initial_context(base, "a person is"))
    scale = float(model.logit_scale.detach().exp())

    def gap() -> float:
        ev = softmax_evidence(emb.astype(np.float64), enc.encode(prompts).astype(np.float64),
                              enc.encode(list(NORMAL_ANCHORS)).astype(np.float64), scale)  # fmt: skip
        return float(ev[labels == 0].mean() - ev[labels >= 2].mean())

    before = gap()
    res = learn_on_examples(enc, anomaly, normal, prompts, [], scale, LearnSettings(steps=5, lr=1e-2))
    assert res.losses[-1] < res.losses[0]
    assert gap() > before + 0.1


def _learned_file(tmp_path: Path, base) -> Path:
    path = tmp_path / "good.safetensors"
    LearnedPrompt(initial_context(base, "a person"), base.name, {"mode": "pool"}).save(path)
    return path


def test_bad_learned_prompt_files_are_refused(base, tmp_path, capsys) -> None:
    from safetensors.torch import load_file, save_file

    good = _learned_file(tmp_path, base)
    tensors, meta = load_file(str(good)), None
    from skelprompt.model.metadata import read_safetensors_metadata

    meta = read_safetensors_metadata(good)
    cases = {
        "not-safetensors": None,
        "format": {**meta, "format": "skelprompt-model"},
        "checksum": {**meta, "provenance": json.dumps({"mode": "examples"})},
        "encoder": {**meta, "text_encoder": "/tmp/some-model"},
        "num_context": {**meta, "num_context": "7"},
        "version": {**meta, "version": "99"},
    }
    for name, m in cases.items():
        bad = tmp_path / f"{name}.safetensors"
        if m is None:
            bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
        else:
            save_file(tensors, str(bad), metadata=m)
        with pytest.raises(ModelError, match=str(bad.name)):
            load_learned_prompt(bad)
        r = run_main(capsys, "prompts", "show", str(bad))
        assert_one_clear_line(r, bad.name, ["prompts", "show", name])
    nan = tmp_path / "nan.safetensors"
    ctx = tensors["context"].clone()
    ctx[0, 0, 0] = float("nan")
    save_file({"context": ctx}, str(nan), metadata=meta)
    with pytest.raises(ModelError, match="NaN"):
        load_learned_prompt(nan)
    assert run_main(capsys, "prompts", "show", str(good)).returncode == 0


def test_score_with_a_learned_prompt(base, tmp_path, capsys) -> None:
    """`score --learned-prompt` changes the prompt scores; a bad file is one line, exit 2."""
    from skelprompt.detector import Detector, DetectorConfig
    from skelprompt.model import load_model

    clips = sbu_clips()
    normal = [c for c in clips if c.label in NORMAL_SBU][:16]
    test = [c for c in clips if c.label in VIOLENT][:4] + normal[:4]
    det = Detector(load_model(None), DetectorConfig(ood_features="model")).fit(normal)
    det_path, clips_path = tmp_path / "det.safetensors", tmp_path / "test.npz"
    det.save(det_path)
    save_clips(clips_path, test)
    ctx = initial_context(base, "", num_context=4, seed=3) + 0.5  # far from any template
    lp_path = tmp_path / "lp.safetensors"
    LearnedPrompt(ctx, base.name, {"mode": "pool"}).save(lp_path)
    outs = []
    for extra in ([], ["--learned-prompt", str(lp_path)]):
        js = tmp_path / f"out{len(extra)}.json"
        args = [
            "score",
            str(clips_path),
            "-d",
            str(det_path),
            "-p",
            "kicking another person",
            "--json",
            str(js),
            *extra,
        ]
        r = run_main(capsys, *args)
        assert r.returncode == 0, r.stderr
        outs.append(json.loads(js.read_text()))
    assert outs[0] != outs[1]
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"junk")
    args = ["score", str(clips_path), "-d", str(det_path), "-p", "kicking", "--learned-prompt", str(bad)]
    assert_one_clear_line(run_main(capsys, *args), bad.name, args)


def test_anomaly_examples_raise_anomaly_like_clips(tmp_path, capsys) -> None:
    """Exemplars of kicking lift other kicking clips above the normal ones; the detector file
    keeps them; `fit --anomaly-examples` writes them."""
    from skelprompt.detector import Detector, DetectorConfig
    from skelprompt.detector.few_shot import fit_with_examples
    from skelprompt.evaluation.metrics import roc_auc
    from skelprompt.model import load_model

    clips = sbu_clips()
    normal = [c for c in clips if c.label in NORMAL_SBU]
    kicks = [c for c in clips if c.label == "kicking"]
    fit_n, test_n = normal[::4], normal[1::4][:20]
    examples, test_k = kicks[:5], kicks[5:15]
    test = test_k + test_n
    y = np.array([1] * len(test_k) + [0] * len(test_n))
    cfg = DetectorConfig(ood_features="model")
    det = fit_with_examples(Detector(load_model(None), cfg), fit_n, examples)
    few = det.score(test)
    zero_shot = copy.copy(det)
    zero_shot.exemplars = None
    zero = zero_shot.score(test)
    assert few.exemplar is not None and zero.exemplar is None and det.exemplars is not None
    np.testing.assert_allclose(few.anomaly, zero.anomaly + det.exemplars.weight * few.exemplar)
    assert few.threshold != zero.threshold  # the normal clips' exemplar evidence moves it
    assert roc_auc(y, few.anomaly) > roc_auc(y, zero.anomaly) + 0.02
    assert few.exemplar[y == 1].mean() > few.exemplar[y == 0].mean()
    path = tmp_path / "few.safetensors"
    det.save(path)
    back = Detector.load(path)
    np.testing.assert_allclose(back.score(test).anomaly, few.anomaly)
    assert back.checksum() == det.checksum() != zero_shot.checksum()
    # a damaged exemplar record is refused, naming the file
    from safetensors.torch import load_file, save_file

    from skelprompt.model.metadata import read_safetensors_metadata

    meta, tensors = read_safetensors_metadata(path), load_file(str(path))
    bad_meta = {**meta, "exemplars": json.dumps({**json.loads(meta["exemplars"]), "weight": -1})}
    for name, m, t in (
        ("weight", bad_meta, tensors),
        ("rows", meta, {k: v for k, v in tensors.items() if not k.endswith(".rows")}),
    ):
        bad = tmp_path / f"bad-{name}.safetensors"
        save_file(t, str(bad), metadata=m)
        with pytest.raises(ModelError, match=bad.name):
            Detector.load(bad)
    # the command line
    n_path, k_path, out = tmp_path / "normal.npz", tmp_path / "kicks.npz", tmp_path / "cli.safetensors"
    save_clips(n_path, fit_n[:8])
    save_clips(k_path, examples[:2])
    args = ["fit", str(n_path), "--anomaly-examples", str(k_path), "--ood-features", "model", "-o", str(out)]
    r = run_main(capsys, *args)
    assert r.returncode == 0, r.stderr
    assert Detector.load(out).exemplars is not None
