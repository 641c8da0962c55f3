"""The network (F, classifier, projection f), its configs, text encoders and model files."""

from skelprompt.model.checkpoint import load_model, model_checksum, save_model, untrained_model
from skelprompt.model.config import PRESETS, ModelConfig
from skelprompt.model.features import extract_features
from skelprompt.model.network import PointEncoder, SkeletonTextModel
from skelprompt.model.text import get_text_encoder

__all__ = [
    "ModelConfig",
    "PRESETS",
    "PointEncoder",
    "SkeletonTextModel",
    "extract_features",
    "get_text_encoder",
    "load_model",
    "model_checksum",
    "save_model",
    "untrained_model",
]
