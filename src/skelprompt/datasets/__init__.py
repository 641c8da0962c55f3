"""Readers for the real skeleton data sets (one module each) and their registry.

Every reader exposes ``load(data_root) -> list[Clip]``; ``data_root`` is the folder that holds
the data set folders (e.g. ``../shared/data``). Users download the data sets themselves.
"""

from skelprompt.datasets.registry import DATASETS, DatasetInfo, default_data_root, load_dataset

__all__ = ["DATASETS", "DatasetInfo", "default_data_root", "load_dataset"]
