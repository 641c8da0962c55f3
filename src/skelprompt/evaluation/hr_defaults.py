"""Defaults of the frame-level HR benchmarks, in a module light enough for the CLI to import."""

# Gaussian sigma in frames for smoothing frame scores. STG-NF's code smooths each video's frame
# scores with gaussian_filter1d at sigma 1, 2, ..., 6 in turn: one Gaussian of sigma sqrt(91).
DEFAULT_SIGMA = 9.5
# training person windows the detector is fitted on, evenly spaced over the training videos
# (0 = all): bounds fit time and memory on HR-ShanghaiTech's 922,000 person-frames
DEFAULT_FIT_WINDOWS = 20_000
