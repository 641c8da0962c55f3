"""Wall time, CPU time and peak memory of fitting the detector on HR-ShanghaiTech's training set.

Run: python benchmarks/hr_fit.py [--data-root ../shared/data] [--set hr-shanghaitech]
     [--fit-windows N] [--threads 1]

Reads all training videos (one at a time), cuts them into person windows with the footage
machinery, fits the HR benchmark's detector (``evaluation.hr_benchmark.hr_config``, bundled
model) on ``--fit-windows`` evenly spaced ones (default: the benchmark's; 0 = all) and prints
the figures of each stage. Goal (issue 18): the whole HR-ShanghaiTech training set in <= 30 min
and <= 4 GiB on 2 cores. CPU time is printed beside wall time: on a shared machine wall time
measures the other jobs too.
"""

from __future__ import annotations

import argparse
import time

import torch

from skelprompt.datasets.hr_vad import HR_SETS
from skelprompt.detector import Detector
from skelprompt.evaluation.hr_benchmark import features_of, hr_config, load_hr, peak_rss_mib
from skelprompt.evaluation.hr_defaults import DEFAULT_FIT_WINDOWS
from skelprompt.model import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--set", default="hr-shanghaitech", choices=sorted(HR_SETS))
    ap.add_argument("--fit-windows", type=int, default=DEFAULT_FIT_WINDOWS)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t, c = time.perf_counter(), time.process_time()
    data = load_hr(a.data_root, HR_SETS[a.set], fit_windows=a.fit_windows, with_test=False)
    s = data.stats
    print(
        f"{a.set}: {s['train_videos']} training videos, {s['train_tracks']} tracks, "
        f"{s['train_person_frames']} person-frames, {s['train_person_windows']} person windows; "
        f"fitting on {s['fit_person_windows']}"
    )
    print(
        f"read + cut: {time.perf_counter() - t:.0f} s wall, {time.process_time() - c:.0f} s CPU, "
        f"peak RSS {peak_rss_mib():.0f} MiB"
    )
    t, c = time.perf_counter(), time.process_time()
    det = Detector(load_model(), hr_config())
    feats, embs, extra = features_of(det, data.train.clips, True, lambda m: None)
    det.fit_features(feats, embs, extra)
    print(
        f"fit: {time.perf_counter() - t:.0f} s wall, {time.process_time() - c:.0f} s CPU, "
        f"peak RSS {peak_rss_mib():.0f} MiB (whole process); bank rows {det.info['memory_bank']}"
    )


if __name__ == "__main__":
    main()
