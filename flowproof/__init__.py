"""flowproof: normalizing flows of invertible 1D layers, proved symbolically, computed numerically, inverted to any
precision."""

from .flow import CHAPTER_AMPLITUDE, CHAPTER_FREQUENCY, CHAPTER_PHASES, Flow, chapter_flow
from .inverse import InverseResult
from .layers import Layer, PartialLayer, SineLayer
from .modes import find_modes

__all__ = ["CHAPTER_AMPLITUDE", "CHAPTER_FREQUENCY", "CHAPTER_PHASES", "Flow", "InverseResult", "Layer",
           "PartialLayer", "SineLayer", "chapter_flow", "find_modes"]
__version__ = "0.1.0"
