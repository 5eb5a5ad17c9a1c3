r"""Hypothesis strategies for valid layer parameters, layers and flows (needs ``pip install hypothesis``).

Every strategy draws *exact* parameters (:class:`fractions.Fraction` with small denominators), so the flow
flowproof builds is exactly the one you can write down, and draws only valid layers (for the sine family,
:math:`|a w| \le` ``max_slope`` :math:`< 1`). Families are kept in a registry, :data:`LAYER_STRATEGIES`
(name :math:`\to` a function returning a strategy of layers); :func:`layers` and :func:`flows` draw from any of
them, and :func:`register_layer_strategy` adds your own.

>>> from hypothesis import given
>>> from flowproof.testing import strategies as fst
>>> @given(fst.flows(max_layers=3))
... def test_invertible(flow):
...     assert flow.derivative_lower_bound() > 0
>>> test_invertible()
>>> from hypothesis import find
>>> find(fst.sine_layers(), lambda layer: True)  # the simplest valid sine layer
SineLayer(amplitude=0, frequency=1/4, phase=0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from ..flow import Flow
from ..layers import Layer, SineLayer

__all__ = ["LAYER_STRATEGIES", "affine_layers", "base_points", "data_points", "flows", "layers",
           "register_layer_strategy", "sine_layers", "sine_parameters", "sinh_arcsinh_layers", "tanh_layers"]

#: Layer families by name: each value returns a strategy of valid layers of that family (called with no arguments).
LAYER_STRATEGIES: dict[str, Callable[[], st.SearchStrategy[Layer]]] = {}


def register_layer_strategy(name: str, factory: Callable[[], st.SearchStrategy[Layer]]) -> None:
    """Add a layer family to :data:`LAYER_STRATEGIES` (``factory()`` returns a strategy of valid layers)."""
    if not callable(factory):
        raise TypeError(f"factory must be callable, got {type(factory).__name__}")
    LAYER_STRATEGIES[name] = factory


def _fraction(value: Any, name: str) -> Fraction:
    try:
        return Fraction(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number such as 0.9 or '9/10', got {value!r}") from None


def sine_parameters(max_slope: Any = "9/10", max_frequency: Any = 4, max_phase: Any = 7) -> st.SearchStrategy[dict]:
    r"""Exact parameters ``{"amplitude", "frequency", "phase"}`` (Fractions) of a valid sine layer.

    For :math:`z + a \sin(w z + \varphi)`: :math:`w \in [1/4, \text{max\_frequency}]` in steps of 1/4 or 1/10,
    :math:`a w` in steps of 1/100 with :math:`|a w| \le` ``max_slope`` (which must be below 1), and
    :math:`\varphi` in steps of 1/100 with :math:`|\varphi| \le` ``max_phase``. Use them to build your own
    implementation and flowproof's :class:`~flowproof.SineLayer` from the same numbers.
    """
    slope, top, phase = (_fraction(max_slope, "max_slope"), _fraction(max_frequency, "max_frequency"),
                         _fraction(max_phase, "max_phase"))
    if not 0 <= slope < 1:
        raise ValueError(f"max_slope must lie in [0, 1) so that f' >= 1 - |a w| > 0, got {slope}")
    if top < Fraction(1, 4):
        raise ValueError(f"max_frequency must be at least 1/4, got {top}")
    if phase < 0:
        raise ValueError(f"max_phase must be >= 0, got {phase}")

    @st.composite
    def draw(draw_: Any) -> dict:
        denominator = draw_(st.sampled_from((4, 10)))
        w = Fraction(draw_(st.integers(-(-denominator // 4), int(top * denominator))), denominator)  # w >= 1/4
        aw = Fraction(draw_(st.integers(-int(slope * 100), int(slope * 100))), 100)
        phi = Fraction(draw_(st.integers(-int(phase * 100), int(phase * 100))), 100)
        return {"amplitude": aw / w, "frequency": w, "phase": phi}

    return draw()


def sine_layers(max_slope: Any = "9/10", max_frequency: Any = 4, max_phase: Any = 7) -> st.SearchStrategy[Layer]:
    """Valid :class:`~flowproof.SineLayer` s with exact parameters (see :func:`sine_parameters`)."""
    return sine_parameters(max_slope, max_frequency, max_phase).map(lambda p: SineLayer(**p))


register_layer_strategy("sine", sine_layers)


def _steps(top: int, step: int, bottom: int | None = None) -> st.SearchStrategy[Fraction]:
    """Fractions ``k / step`` for ``k`` in ``[bottom, top]`` (default ``[-top, top]``)."""
    return st.integers(-top if bottom is None else bottom, top).map(lambda k: Fraction(k, step))


def affine_layers() -> st.SearchStrategy[Layer]:
    r"""Valid :class:`~flowproof.AffineLayer` s :math:`a z + b`.

    :math:`a \in [1/4, 2]`, :math:`|b| \le 2` (steps of 1/20)."""
    from .. import layers as family

    return st.builds(family.AffineLayer, _steps(40, 20, 5), _steps(40, 20))  # type: ignore[attr-defined]


def tanh_layers() -> st.SearchStrategy[Layer]:
    r"""Valid :class:`~flowproof.TanhLayer` s :math:`z + a \tanh(w z + b)`.

    :math:`w \in [1/4, 4]` (steps of 1/4), :math:`a w \in [-9/10, 2]` and :math:`|b| \le 3` (steps of 1/100)."""
    from .. import layers as family

    @st.composite
    def draw(draw_: Any) -> Layer:
        w = draw_(_steps(16, 4, 1))
        return family.TanhLayer(draw_(_steps(200, 100, -90)) / w, w, draw_(_steps(300, 100)))  # type: ignore

    return draw()


def sinh_arcsinh_layers() -> st.SearchStrategy[Layer]:
    r"""Valid :class:`~flowproof.SinhArcsinhLayer` s.

    Tail weight :math:`b \in [1, 2]`, skewness :math:`|e| \le 1` (steps of 1/20)."""
    from .. import layers as family

    return st.builds(family.SinhArcsinhLayer, _steps(40, 20, 20), _steps(20, 20))  # type: ignore[attr-defined]


def _register_present_families() -> None:
    """Register the strategies of the families this flowproof has (they arrived after the sine family)."""
    from .. import layers as family

    for name, cls, factory in (("affine", "AffineLayer", affine_layers), ("tanh", "TanhLayer", tanh_layers),
                               ("sinh-arcsinh", "SinhArcsinhLayer", sinh_arcsinh_layers)):
        if hasattr(family, cls):
            register_layer_strategy(name, factory)


_register_present_families()


def layers(families: Sequence[str] | None = None) -> st.SearchStrategy[Layer]:
    """A layer of any registered family (default: all of :data:`LAYER_STRATEGIES`: ``"sine"``, and ``"affine"``,
    ``"tanh"``, ``"sinh-arcsinh"`` where this flowproof has them), or of the named ones."""
    names = list(LAYER_STRATEGIES) if families is None else list(families)
    unknown = [n for n in names if n not in LAYER_STRATEGIES]
    if unknown or not names:
        raise ValueError(f"unknown layer families {unknown or names}; registered: {sorted(LAYER_STRATEGIES)}")
    return st.one_of(*(LAYER_STRATEGIES[n]() for n in names))


def flows(min_layers: int = 0, max_layers: int = 6, families: Sequence[str] | None = None,
          fractional: bool = False, min_derivative: Any = None) -> st.SearchStrategy[Flow]:
    r"""Flows of ``min_layers`` to ``max_layers`` layers drawn by :func:`layers` from ``families`` (default:
    every registered family; ``["sine"]`` for the chapter's kind only).

    With ``fractional=True`` the last layer is taken a drawn fraction :math:`t \in \{1/8, \dots, 7/8\}` of the
    way (:meth:`flowproof.Flow.truncate`). ``min_derivative`` keeps only flows whose proven bound
    :math:`F' \ge \prod_k m_k` (for sine layers :math:`m_k = 1 - |a_k w_k|`) is at least that (a float code loses
    :math:`\log_{10}(1/F')` digits in the inverse).
    """
    if not 0 <= min_layers <= max_layers:
        raise ValueError(f"need 0 <= min_layers <= max_layers, got {min_layers} and {max_layers}")
    bound = None if min_derivative is None else _fraction(min_derivative, "min_derivative")
    layer = layers(families)

    @st.composite
    def draw(draw_: Any) -> Flow:
        flow = Flow(draw_(st.lists(layer, min_size=min_layers, max_size=max_layers)))
        if fractional and len(flow) > 0:
            t = Fraction(draw_(st.integers(1, 7)), 8)
            flow = flow.truncate(Fraction(len(flow) - 1) + t)
        return flow

    strategy = draw()
    if bound is not None:
        strategy = strategy.filter(lambda f: bool(f.derivative_lower_bound() >= bound))
    return strategy


def base_points(max_abs: float = 40.0) -> st.SearchStrategy[float]:
    """Finite float64 points :math:`x` of the base space, up to ``max_abs`` in absolute value."""
    return st.floats(-max_abs, max_abs, allow_nan=False, allow_infinity=False)


def data_points(flow: Flow, max_abs: float = 40.0) -> st.SearchStrategy[float]:
    """Float64 points :math:`y = F(x)` of the data space, for :math:`x` drawn by :func:`base_points`."""
    return base_points(max_abs).map(lambda x: float(flow.forward(x)))
