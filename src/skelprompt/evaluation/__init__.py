"""Benchmarks: the six zero-shot protocols of ``../shared/data/README.md``, metrics, baselines,
a learned peer, robustness injectors, the runner and report writers."""
