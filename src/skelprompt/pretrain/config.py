"""Pretraining configuration: one dataclass, loadable from YAML, saved in every checkpoint.

The defaults of :class:`PretrainConfig` are the bundled model's recipe, the one that
``configs/pretrain_default.yaml`` writes out in full (a test holds the three equal): `skelprompt
pretrain` without --config and the benchmarks' leave-one-out models use them, and a partial
YAML file changes only what it names."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from skelprompt.errors import SkelpromptError

# Data sets used by default. URFD is left out: it is the urfd-fall benchmark's data, holds only
# 30 videos with per-frame labels, and ``--include urfd`` cuts it into labelled windows instead.
DEFAULT_DATASETS = ("sbu", "k3hi", "msr", "nw_ucla", "utkinect", "jhmdb", "precog", "deepmimic")


@dataclass
class AugmentConfig:
    view_p: float = 0.8  # random virtual camera for clips with keypoint3d
    max_yaw: float = 45.0
    max_pitch: float = 10.0
    scale: tuple[float, float] = (0.8, 1.2)  # per-axis (anisotropic) scale
    shift: float = 0.2  # fraction of the clip's extent
    rotate_deg: float = 5.0
    flip_p: float = 0.5
    crop_min: float = 0.6  # random temporal crop keeps this fraction of frames or more
    joint_drop_p: float = 0.05
    conf_noise: float = 0.1
    coord_noise: float = 0.01  # Gaussian joint jitter in torso lengths
    person_shift: float = 0.1  # two-person clips: move one person by this fraction of torso length
    # 2D pose-estimator domain (OpenPose/AlphaPose/MoveNet look); all 0 = off (the old recipe)
    speed_conf_p: float = 0.0  # confidence falls with joint speed (blur) and depth behind the body
    limb_jitter_p: float = 0.0  # jitter of each joint proportional to its limb's length
    limb_jitter: float = 0.08  # std in limb lengths
    missing_burst_p: float = 0.0  # a limb (or the whole person) missing for a run of frames
    swap_p: float = 0.0  # left/right joints swapped for a run of frames (detector confusion)
    fps_resample_p: float = 0.0  # resample to a frame rate in fps_range
    fps_range: tuple[float, float] = (5.0, 30.0)
    short_clip_p: float = 0.0  # keep only short_clip_frames frames
    short_clip_frames: tuple[int, int] = (8, 32)
    border_cut_p: float = 0.0  # part of the body outside the image (score 0 beyond a line)
    extra_person_p: float = 0.0  # a spurious, low-confidence extra person


@dataclass
class PretrainConfig:
    preset: str = "small"
    frames: int = 32  # frames per clip at inference (saved in the model config)
    train_frames: int = 16  # frames sampled per clip in training (random jitter); 0 = ``frames``
    datasets: tuple[str, ...] = DEFAULT_DATASETS
    exclude: tuple[str, ...] = ()
    epochs: int = 5  # total epochs
    stage1_epochs: int = 1  # alpha = 1 (classification only) for these first epochs
    alpha: float = 0.6  # Eq. 5 weight of the classification loss after stage 1
    optimizer: str = "adamw"  # "adamw" | "sgd" (SGD lr 0.01-0.02 learned far slower, see MODEL_CARD)
    lr: float = 2e-3
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.01
    warmup_steps: int = 20
    batch_size: int = 64  # per process
    label_smoothing: float = 0.1
    val_fraction: float = 0.1
    seed: int = 0
    description_p: float = 0.5  # probability of a long class description as the text target
    max_clips_per_dataset: int = 0  # 0 = all (small values for tests)
    max_clips_per_class: int = 0  # 0 = all: caps very frequent classes (e.g. DeepMimic walks)
    urfd_window: int = 32
    urfd_stride: int = 16
    num_threads: int = 0  # torch threads per process (0 = torch default)
    amp: bool = False  # mixed precision: bf16 autocast on CPU, fp16 + GradScaler on CUDA
    checksum_dir: str = ""  # tests: every rank writes its final weight checksum here
    # issue 10's recipe; configs/pretrain_old.yaml sets the first recipe's values
    texts: str = "rich"  # "names": class-name templates + one GAP sentence | "rich": every mapped description
    description_matches: tuple[str, ...] = ("exact", "close")  # pool_mapping.json matches used by "rich"
    contrastive: str = "multi"  # "mask": same-class pairs left out | "multi": soft multi-positive targets
    split: str = "recording"  # "clip": stratified by clip | "recording": no recording on both sides
    select: str = "best"  # "last" epoch | "best" epoch by validation text retrieval
    synth_pairs: int = 600  # synthetic two-person clips added to the pool (strikes and normal pairs)
    synth_normal_fraction: float = 0.5  # share of them that are normal interactions
    synth_strike_distance: tuple[float, float] = (0.6, 1.0)  # metres between hip centres
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["datasets"] = list(self.datasets)
        d["exclude"] = list(self.exclude)
        d["description_matches"] = list(self.description_matches)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PretrainConfig:
        d = dict(d)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise SkelpromptError(f"unknown pretraining option(s): {', '.join(unknown)}")
        aug = d.pop("augment", None) or {}
        aknown = {f.name for f in fields(AugmentConfig)}
        bad = sorted(set(aug) - aknown)
        if bad:
            raise SkelpromptError(f"unknown augment option(s): {', '.join(bad)}")
        for k in ("scale", "fps_range", "short_clip_frames"):
            if k in aug:
                aug[k] = tuple(aug[k])
        for k in ("datasets", "exclude", "description_matches", "synth_strike_distance"):
            if k in d and d[k] is not None:
                d[k] = tuple(d[k])
        cfg = cls(**d, augment=AugmentConfig(**aug))
        cfg.check()
        return cfg

    @classmethod
    def from_yaml(cls, path: str | Path) -> PretrainConfig:
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise SkelpromptError(f"{path}: no such config file") from None
        except yaml.YAMLError as e:
            raise SkelpromptError(f"{path}: not valid YAML ({e})") from None
        if not isinstance(data, dict):
            raise SkelpromptError(f"{path}: a pretraining config must be a mapping")
        return cls.from_dict(data)

    def check(self) -> None:
        if self.optimizer not in ("sgd", "adamw"):
            raise SkelpromptError(f"optimizer must be sgd or adamw, got {self.optimizer!r}")
        if not 0.0 <= self.alpha <= 1.0:
            raise SkelpromptError(f"alpha must lie in [0, 1], got {self.alpha}")
        if self.epochs < 1 or self.stage1_epochs < 0:
            raise SkelpromptError("epochs must be >= 1 and stage1_epochs >= 0")
        if not 0.0 <= self.val_fraction < 1.0:
            raise SkelpromptError(f"val_fraction must lie in [0, 1), got {self.val_fraction}")
        for name, value, allowed in (
            ("texts", self.texts, ("names", "rich")),
            ("contrastive", self.contrastive, ("mask", "multi")),
            ("split", self.split, ("clip", "recording")),
            ("select", self.select, ("last", "best")),
        ):
            if value not in allowed:
                raise SkelpromptError(f"{name} must be {' or '.join(allowed)}, got {value!r}")
        if self.synth_pairs < 0 or not 0.0 <= self.synth_normal_fraction <= 1.0:
            raise SkelpromptError("synth_pairs must be >= 0 and synth_normal_fraction in [0, 1]")
        if self.batch_size < 2:
            raise SkelpromptError("batch_size must be at least 2 (the contrastive loss needs pairs)")

    def used_datasets(self) -> list[str]:
        """The data sets to load: ``datasets`` minus ``exclude``, in order."""
        ex = set(self.exclude)
        return [d for d in dict.fromkeys(self.datasets) if d not in ex]

    def alpha_at(self, epoch: int) -> float:
        """Eq. 5 weight of the classification loss in 0-based ``epoch``."""
        return 1.0 if epoch < self.stage1_epochs else self.alpha
