"""flowproof: normalizing flows of invertible 1D layers, proved symbolically, computed numerically, inverted to any
precision.

The names below are imported on first use (PEP 562), so ``import flowproof`` (and the pytest plugin, which loads
into every pytest session where flowproof is installed) costs nothing until the library is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .expr_layer import ExprLayer
    from .flow import CHAPTER_AMPLITUDE, CHAPTER_FREQUENCY, CHAPTER_PHASES, Flow, chapter_flow
    from .inverse import InverseResult
    from .layers import AffineLayer, Layer, PartialLayer, SineLayer, SinhArcsinhLayer, TanhLayer
    from .modes import find_modes

_HOMES = {
    "ExprLayer": "expr_layer",
    "CHAPTER_AMPLITUDE": "flow", "CHAPTER_FREQUENCY": "flow", "CHAPTER_PHASES": "flow", "Flow": "flow",
    "chapter_flow": "flow",
    "InverseResult": "inverse",
    "AffineLayer": "layers", "Layer": "layers", "PartialLayer": "layers", "SineLayer": "layers",
    "SinhArcsinhLayer": "layers", "TanhLayer": "layers",
    "find_modes": "modes",
}

__all__ = ["CHAPTER_AMPLITUDE", "CHAPTER_FREQUENCY", "CHAPTER_PHASES", "AffineLayer", "ExprLayer", "Flow",
           "InverseResult", "Layer", "PartialLayer", "SineLayer", "SinhArcsinhLayer", "TanhLayer", "chapter_flow",
           "find_modes"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'flowproof' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
