"""``skelprompt pretrain --pyskl``: a PySKL pickle converted once into shards, streamed and mixed
with a built-in data set; bad files refused with one line and exit code 2."""

from __future__ import annotations

import pickle

import numpy as np

from skelprompt.io.pyskl import save_pyskl
from skelprompt.model.checkpoint import load_model
from tests.helpers import sbu_clips
from tests.test_cli_errors import run_main

# small and fast: the first recipe's texts, loss, split and epoch choice, no synthetic clips
TINY = (
    "frames: 8\ntrain_frames: 8\nbatch_size: 8\nmax_clips_per_dataset: 16\nepochs: 1\nstage1_epochs: 0\n"
    + ("texts: names\ncontrastive: mask\nsplit: clip\nselect: last\nsynth_pairs: 0\ndescription_p: 0.3\n")
)


def _pyskl_file(tmp_path, n=12):
    clips = sbu_clips()[::10][:n]
    names = sorted({str(c.label) for c in clips})
    pkl = tmp_path / "sbu.pkl"
    save_pyskl(pkl, clips, label_names=names)  # PySKL files hold class indices, named by --label-names
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    return pkl, names


def test_pretrain_streams_a_pyskl_file_with_a_data_set(data_root, tmp_path, capsys):
    pkl, names = _pyskl_file(tmp_path)
    (tmp_path / "tiny.yaml").write_text(TINY + "num_threads: 1\n")
    out = tmp_path / "m.safetensors"
    args = ["pretrain", "--data-root", str(data_root), "--include", "k3hi", "--config", str(tmp_path / "tiny.yaml"),
            "--pyskl", str(pkl), "--label-names", str(tmp_path / "names.txt"), "--pyskl-layout", "openni15",
            "--out", str(out), "--no-progress", "--device", "cpu"]  # fmt: skip
    refused = run_main(capsys, *args)
    assert refused.returncode == 2 and "--trust-pickle" in refused.stderr and not out.exists()
    res = run_main(capsys, *args, "--trust-pickle")
    assert res.returncode == 0, res.stderr
    model = load_model(out)
    prov = model.provenance
    for n in names:  # the file's classes joined the data set's
        assert any(f"pyskl:{pkl.name}.shards" in ds for k, ds in prov["classes"].items() if k == n.lower())
    assert prov["datasets"] == {"k3hi": prov["datasets"]["k3hi"]}
    assert (tmp_path / "sbu.pkl.shards" / "index.json").exists()
    log = (tmp_path / "m.log.jsonl").read_text().splitlines()
    assert '"train_clips": ' in log[0]
    k3hi_train = prov["train_clips"]
    assert f'"train_clips": {k3hi_train + 12}' in log[0]  # the data set's clips and all 12 streamed ones


def test_pyskl_bad_fields_one_line_exit_2(data_root, tmp_path, capsys):
    pkl, names = _pyskl_file(tmp_path, n=6)
    (tmp_path / "short.txt").write_text("\n".join(names[:1]) + "\n")
    base = ["pretrain", "--data-root", str(data_root), "--include", "k3hi", "--pyskl-layout", "openni15",
            "--out", str(tmp_path / "m.safetensors"), "--trust-pickle", "--no-progress"]  # fmt: skip
    res = run_main(capsys, *base, "--pyskl", str(pkl), "--label-names", str(tmp_path / "short.txt"))
    assert res.returncode == 2 and "outside 0..0" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    wrong = run_main(capsys, *base, "--pyskl", str(pkl), "--pyskl-layout", "coco17",
                     "--label-names", str(tmp_path / "short.txt"))  # fmt: skip
    assert wrong.returncode == 2 and "joints" in wrong.stderr
    ann = {
        "frame_dir": "a",
        "label": 0,
        "keypoint": np.zeros((1, 4, 15, 2), np.float32),
        "keypoint_score": np.ones((1, 4), np.float32),
    }  # score not [M, T, V]
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps({"split": {}, "annotations": [ann]}))
    res = run_main(capsys, *base, "--pyskl", str(bad), "--label-names", str(tmp_path / "short.txt"))
    assert res.returncode == 2 and "annotation 0: 'keypoint_score' must be" in res.stderr
