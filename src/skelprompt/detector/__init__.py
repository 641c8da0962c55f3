"""The prompt-guided anomaly detector.

``config`` (options and scores), ``sources`` (the features OoD distances are measured on),
``scorers/`` (one OoD scorer per module, registered by name), ``detector`` (fit and score),
``persistence`` (detector files).
"""

from skelprompt.detector.config import DetectorConfig, Scores
from skelprompt.detector.detector import Detector
from skelprompt.detector.scorers import SCORERS, OoDScorer, make_scorer, register_scorer
from skelprompt.detector.sources import random_encoder

__all__ = [
    "SCORERS",
    "Detector",
    "DetectorConfig",
    "OoDScorer",
    "Scores",
    "make_scorer",
    "random_encoder",
    "register_scorer",
]
