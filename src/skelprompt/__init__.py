"""skelprompt: prompt-guided zero-shot anomaly action detection on human skeletons."""

from skelprompt.clip import Clip
from skelprompt.errors import SkelpromptError
from skelprompt.layouts import CANONICAL_JOINTS, LAYOUTS, get_layout

__version__ = "0.1.0"

__all__ = ["Clip", "SkelpromptError", "CANONICAL_JOINTS", "LAYOUTS", "get_layout", "__version__"]
