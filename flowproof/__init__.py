"""flowproof: normalizing flows of invertible 1D layers, proved symbolically, computed numerically, inverted to any
precision."""

from .expr_layer import ExprLayer
from .flow import CHAPTER_AMPLITUDE, CHAPTER_FREQUENCY, CHAPTER_PHASES, Flow, chapter_flow
from .inverse import InverseResult
from .layers import AffineLayer, Layer, PartialLayer, SineLayer, SinhArcsinhLayer, TanhLayer
from .modes import find_modes

__all__ = ["CHAPTER_AMPLITUDE", "CHAPTER_FREQUENCY", "CHAPTER_PHASES", "AffineLayer", "ExprLayer", "Flow",
           "InverseResult", "Layer", "PartialLayer", "SineLayer", "SinhArcsinhLayer", "TanhLayer", "chapter_flow",
           "find_modes"]
__version__ = "0.1.0"
