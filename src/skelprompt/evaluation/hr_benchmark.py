"""HR-ShanghaiTech and HR-Avenue, frame by frame: fit on the normal training videos, score every
person window of the test videos, report frame-level AUCs beside baselines and the GRU peer.

Every video is cut by the footage machinery (:func:`skelprompt.footage.windows.cut_windows`);
each person of each window is one clip. The detector is fitted on training person windows
(evenly spaced, at most ``fit_windows`` of them, so fit time and memory stay bounded on the
922,000 person-frames of HR-ShanghaiTech) and scores every test person window; frame scores,
smoothing and AUCs are :mod:`skelprompt.evaluation.frame_level`'s. The model features of each
clip are computed once and shared by every detector variant.
"""

from __future__ import annotations

import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skelprompt import __version__
from skelprompt.clip import Clip
from skelprompt.datasets.hr_vad import HR_SETS, HRSet, load_video, video_names
from skelprompt.detector import Detector, DetectorConfig
from skelprompt.detector.sources import take_features
from skelprompt.errors import ModelError
from skelprompt.evaluation.baselines import DescriptorOoD, mean_joint_speed
from skelprompt.evaluation.frame_level import FrameTargets, evaluate_frames
from skelprompt.evaluation.hr_defaults import DEFAULT_FIT_WINDOWS, DEFAULT_SIGMA
from skelprompt.evaluation.peer import peer_scores
from skelprompt.footage.windows import DEFAULT_LENGTH_S, DEFAULT_STRIDE_S, cut_windows
from skelprompt.model import model_checksum
from skelprompt.pose_descriptor import DESCRIPTOR_FRAMES, descriptors

# the anomalies these scenes are known for (ShanghaiTech Campus and Avenue annotations)
HR_PROMPTS = (
    "a person riding a bicycle",
    "a person skateboarding",
    "a person running",
    "a person chasing another person",
    "people fighting",
    "a person jumping",
    "a person throwing an object",
    "a person falling down",
    "a person loitering",
)
HR_WRONG_PROMPTS = ("a person playing the piano",)
FEATURE_BLOCK = 2048  # clips encoded at once (bounds the memory of clip batches)

Log = Callable[[str], None]


@dataclass
class PersonWindows:
    """Person windows of some videos: the one-person clips and where each one's frames are."""

    clips: list[Clip] = field(default_factory=list)
    video: list[int] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)

    def add_video(self, index: int, clip: Clip, length_s: float, stride_s: float) -> None:
        for w in cut_windows(clip, length_s, stride_s):
            for _, p in w.persons:
                self.clips.append(p)
                self.video.append(index)
                self.frames.append(w.start_frame + np.flatnonzero(p.keypoint_score[0].any(-1)))

    def subset(self, idx: np.ndarray) -> PersonWindows:
        return PersonWindows(
            [self.clips[i] for i in idx], [self.video[i] for i in idx], [self.frames[i] for i in idx]
        )

    @property
    def targets(self) -> FrameTargets:
        return FrameTargets(np.asarray(self.video, np.int64), self.frames)


def evenly_spaced(n: int, k: int) -> np.ndarray:
    """``min(n, k)`` indices spread evenly over ``range(n)`` (all of them for k = 0)."""
    if k <= 0 or k >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, MiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


@dataclass
class HRData:
    """The windows of one data set: training person windows and test person windows with labels."""

    hr: HRSet
    train: PersonWindows
    test: PersonWindows
    train_names: list[str]
    test_names: list[str]
    test_frames: list[int]
    test_labels: list[np.ndarray]
    stats: dict[str, Any]


def load_hr(
    data_root: str | Path,
    hr: HRSet,
    length_s: float = DEFAULT_LENGTH_S,
    stride_s: float = DEFAULT_STRIDE_S,
    fit_windows: int = DEFAULT_FIT_WINDOWS,
    limit: int | None = None,
    with_test: bool = True,
) -> HRData:
    """Cut every training and (with ``with_test``) test video, one at a time, so only the
    windows stay in memory."""
    train = PersonWindows()
    fixed = person_frames = tracks = 0
    names = video_names(data_root, hr, "train")[:limit]
    for i, n in enumerate(names):
        clip = load_video(data_root, hr, "train", n).clip
        if clip is None:
            continue
        fixed += int(clip.meta["start_duplicates_fixed"])
        person_frames += int(clip.keypoint_score.any(-1).sum())
        tracks += clip.num_persons
        train.add_video(i, clip, length_s, stride_s)
    all_train = len(train.clips)
    train = train.subset(evenly_spaced(all_train, fit_windows))
    test = PersonWindows()
    test_names, test_frames, test_labels = [], [], []
    no_clip = []
    for i, n in enumerate(video_names(data_root, hr, "test")[:limit] if with_test else []):
        v = load_video(data_root, hr, "test", n)
        assert v.labels is not None
        test_names.append(n)
        test_frames.append(v.num_frames)
        test_labels.append(v.labels)
        if v.clip is None:
            no_clip.append(n)
            continue
        test.add_video(i, v.clip, length_s, stride_s)
    stats = {
        "train_videos": len(names),
        "train_tracks": tracks,
        "train_person_frames": person_frames,
        "train_start_duplicates_fixed": fixed,
        "train_person_windows": all_train,
        "fit_person_windows": len(train.clips),
        "test_videos": len(test_names),
        "test_videos_without_persons": no_clip,
        "test_frames": int(sum(test_frames)),
        "test_anomalous_frames": int(sum(int(y.sum()) for y in test_labels)),
        "test_person_windows": len(test.clips),
    }
    return HRData(hr, train, test, names, test_names, test_frames, test_labels, stats)


def features_of(det: Detector, clips: list[Clip], for_fit: bool, log: Log) -> tuple[Any, ...]:
    """``det.features`` a block of clips at a time (progress in the log)."""
    parts = []
    for lo in range(0, len(clips), FEATURE_BLOCK):
        parts.append(det.features(clips[lo : lo + FEATURE_BLOCK], for_fit=for_fit))
        log(f"features {min(lo + FEATURE_BLOCK, len(clips))}/{len(clips)}")
    feats = np.concatenate([p[0] for p in parts])
    embs = np.concatenate([p[1] for p in parts])
    extra = {k: np.concatenate([p[2][k] for p in parts]) for k in parts[0][2]}
    return feats, embs, extra


ALL_SOURCES = "pose+model+place"


@dataclass
class SceneGroup:
    """One scene (camera): its training and test person windows (indices)."""

    name: str
    train: np.ndarray
    test: np.ndarray


def scene_of(video: str) -> str:
    """The camera of a video: the part of its name before the first '_' (``01_0014`` -> ``01``)."""
    return video.split("_")[0]


def scene_groups(data: HRData, per_scene: bool) -> list[SceneGroup]:
    """One group per camera with test windows (or one group of everything)."""
    tr, te = np.asarray(data.train.video, np.int64), np.asarray(data.test.video, np.int64)
    if not per_scene:
        return [SceneGroup("all", np.arange(len(tr)), np.arange(len(te)))]
    train_scene = np.array([scene_of(n) for n in data.train_names])[tr] if len(tr) else np.array([])
    test_scene = np.array([scene_of(n) for n in data.test_names])[te] if len(te) else np.array([])
    out = []
    for sc in sorted(set(test_scene.tolist())):
        idx = np.flatnonzero(train_scene == sc)
        if len(idx) < 3:
            raise ModelError(f"scene {sc}: only {len(idx)} training person windows to fit on")
        out.append(SceneGroup(sc, idx, np.flatnonzero(test_scene == sc)))
    return out


def fit_groups(
    model: Any, cfg: DetectorConfig, train_f: tuple[Any, ...], groups: list[SceneGroup]
) -> list[Detector]:
    return [Detector(model, cfg).fit_features(*take_features(train_f, g.train)) for g in groups]


@dataclass
class GroupScores:
    anomaly: np.ndarray
    prompt: np.ndarray  # the raw prompt evidence: the "prompt only" row
    ood: np.ndarray  # the standardised OoD term: the "OoD only" row (combine="ood" scores it so)


def score_groups(
    dets: list[Detector], test_f: tuple[Any, ...], groups: list[SceneGroup], prompts: list[str] | None
) -> GroupScores:
    n = len(test_f[0])
    anomaly, prompt, ood = np.zeros(n), np.zeros(n), np.zeros(n)
    for det, g in zip(dets, groups, strict=True):
        if not len(g.test):
            continue
        feats, embs, extra = take_features(test_f, g.test)
        sc = det.score_features(feats, embs, prompts, extra=extra)
        anomaly[g.test], prompt[g.test], ood[g.test] = sc.anomaly, sc.prompt, sc.p_ood
    return GroupScores(anomaly, prompt, ood)


def hr_config(**changes: Any) -> DetectorConfig:
    """The detector of the HR rows: the library default (raw poses + the model's features, one
    detector for all cameras) with one person in the raw-pose descriptor (each scored clip holds
    one person: a second, empty slot only adds swapped bank rows). The place source and one
    detector per camera measured worse on HR-ShanghaiTech (README, HR section): ablations."""
    return replace(DetectorConfig(pose_persons=1), **changes)


def ablation_rows() -> dict[str, tuple[DetectorConfig, bool]]:
    """Controls beside the HR rows: (detector config, one detector per camera)."""
    return {
        "ablation: one detector per camera": (hr_config(), True),
        "ablation: place source added": (hr_config(ood_features="pose+model+place"), False),
        "ablation: raw-pose source only": (hr_config(ood_features="pose"), False),
        "ablation: model source only": (hr_config(ood_features="model"), False),
    }


def run_hr_benchmark(
    name: str,
    data_root: str | Path,
    model: Any,
    prompts: list[str] | None = None,
    *,
    length_s: float = DEFAULT_LENGTH_S,
    stride_s: float = DEFAULT_STRIDE_S,
    fit_windows: int = DEFAULT_FIT_WINDOWS,
    sigma: float = DEFAULT_SIGMA,
    baselines: bool = True,
    peer: bool = True,
    seed: int = 0,
    limit: int | None = None,
    config: DetectorConfig | None = None,
    per_scene: bool = False,
    extra_rows: dict[str, tuple[DetectorConfig, bool]] | None = None,
    log: Log | None = None,
) -> dict[str, Any]:
    """Every row of one HR benchmark (module docstring) as a JSON-able dict."""
    say = log or (lambda s: None)
    hr = HR_SETS[name]
    prompts = list(prompts) if prompts else list(HR_PROMPTS)
    t0 = time.perf_counter()
    data = load_hr(data_root, hr, length_s, stride_s, fit_windows, limit)
    timings: dict[str, float] = {"load_and_cut": time.perf_counter() - t0}
    say(f"{name}: {data.stats}")
    cfg = config or hr_config()

    t, c = time.perf_counter(), time.process_time()
    # features once for every source any row uses; each row's detector takes its own sources
    feature_det = Detector(model, replace(cfg, ood_features=ALL_SOURCES))
    train_f = features_of(feature_det, data.train.clips, True, say)
    timings["fit_features"] = time.perf_counter() - t
    groups = scene_groups(data, per_scene)
    rows: dict[str, np.ndarray] = {}
    fitted = fit_groups(model, cfg, train_f, groups)
    timings["fit"] = time.perf_counter() - t
    timings["fit_cpu"] = time.process_time() - c  # beside wall time: the machine may be shared
    memory = {"peak_rss_mib_after_fit": peak_rss_mib()}
    say(f"fit {timings['fit']:.0f} s on {len(data.train.clips)} person windows, {len(groups)} scene(s)")

    t, c = time.perf_counter(), time.process_time()
    test_f = features_of(feature_det, data.test.clips, False, say)
    default = score_groups(fitted, test_f, groups, prompts)
    rows["skelprompt default"] = default.anomaly
    rows["skelprompt OoD only"] = default.ood
    rows["skelprompt prompt only"] = default.prompt
    rows["skelprompt default, wrong prompt"] = score_groups(
        fitted, test_f, groups, list(HR_WRONG_PROMPTS)
    ).anomaly
    timings["score"] = time.perf_counter() - t
    timings["score_cpu"] = time.process_time() - c
    memory["peak_rss_mib_after_score"] = peak_rss_mib()
    for label, other in (ablation_rows() if extra_rows is None else extra_rows).items():
        o_cfg, o_scene = other
        o_groups = scene_groups(data, o_scene)
        r = score_groups(fit_groups(model, o_cfg, train_f, o_groups), test_f, o_groups, prompts)
        rows[label], rows[f"{label}, OoD only"] = r.anomaly, r.ood

    if baselines or peer:
        t = time.perf_counter()
        df = descriptors(data.train.clips, 1)
        dt = descriptors(data.test.clips, 1)
        if baselines:
            rows["raw-pose k-NN"] = DescriptorOoD("knn").fit(df).score(dt)
            rows["mean joint speed"] = np.array([mean_joint_speed(c) for c in data.test.clips])
        timings["baselines"] = time.perf_counter() - t
        if peer:
            t = time.perf_counter()
            rows["GRU autoencoder peer"] = peer_scores(df, dt, DESCRIPTOR_FRAMES, seed=seed)
            timings["peer"] = time.perf_counter() - t

    results = {
        k: evaluate_frames(data.test_frames, data.test_labels, data.test.targets, v, sigma)
        for k, v in rows.items()
    }
    timings["total"] = time.perf_counter() - t0
    return {
        "benchmark": name,
        "protocol": {
            "window_length_s": length_s,
            "window_stride_s": stride_s,
            "fps": hr.fps,
            "fit_windows": fit_windows,
            "sigma_frames": sigma,
            "prompts": prompts,
            "wrong_prompts": list(HR_WRONG_PROMPTS),
            "detector": {**cfg.__dict__},
            "per_scene": per_scene,
            **data.stats,
        },
        "model": {"checksum": model_checksum(model), "path": getattr(model, "source_path", None)},
        "results": results,
        "timings": timings,
        "memory": memory,
        "environment": {
            "skelprompt": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "seed": seed,
        },
    }


def results_lines(out: dict[str, Any]) -> list[str]:
    """A plain table of one run's rows."""
    lines = [f"{out['benchmark']}: micro / macro frame AUC (sigma {out['protocol']['sigma_frames']} frames)"]
    for k, r in out["results"].items():
        lines.append(
            f"  {k:36s} {r['micro_auc']:.3f} / {r['macro_auc']:.3f}"
            f"  (unsmoothed {r['micro_auc_unsmoothed']:.3f}; frames without a person {r['frames_without_score']})"
        )
    t, m = out["timings"], out["memory"]
    lines.append(
        f"  fit {t['fit']:.0f} s ({t['fit_cpu']:.0f} s CPU), score {t['score']:.0f} s ({t['score_cpu']:.0f} s CPU), peak RSS {m['peak_rss_mib_after_fit']:.0f} MiB "
        f"after fit, {m['peak_rss_mib_after_score']:.0f} MiB after score"
    )
    return lines
