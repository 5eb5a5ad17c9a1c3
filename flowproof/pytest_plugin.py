r"""pytest plugin (entry point ``pytest11: flowproof``): oracle flows as fixtures, explicit mpmath precision.

It is loaded into every pytest session of an environment where flowproof is installed, so it costs a suite that
does not use it nothing: this module imports only pytest at import time (flowproof's numeric stack and mpmath
are imported inside the fixtures and hooks that need them) and adds no autouse fixture.

* Fixture ``flowproof_flow``: the chapter's flow (:func:`flowproof.chapter_flow`, six layers); parametrise it
  indirectly with a depth or a :class:`~flowproof.Flow`::

      @pytest.mark.parametrize("flowproof_flow", [1, "2.5", 6], indirect=True)
      def test_log_det(flowproof_flow): ...

* Fixture ``oracle_flow``: a factory, ``oracle_flow(K=6, phases=None, amplitude=None, frequency=None)``, for a
  sine flow of your own constants (exact decimals as strings).
* Marker ``@pytest.mark.mpmath_dps(50)``: the test body runs inside ``mpmath.workdps(50)``, so its precision is
  written next to it (and :mod:`flowproof.testing`'s oracle works at least that precisely); the test fails if it
  leaves ``mpmath.mp.prec`` (or ``dps``) changed, and the precision is restored either way.
* Option ``--flowproof-check-precision`` (or ini ``flowproof_check_precision = true``): make the same check for
  every test, marked or not: a test whose body changes mpmath's global precision fails, and the precision is
  restored.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest

__all__ = ["flowproof_flow", "oracle_flow"]

_MARKER = "mpmath_dps"
_OPTION = "flowproof_check_precision"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("flowproof")
    group.addoption("--flowproof-check-precision", action="store_true", default=None, dest=_OPTION,
                    help="fail any test whose body leaves mpmath's global precision changed (and restore it)")
    parser.addini(_OPTION, type="bool", default=False,
                  help="fail any test whose body leaves mpmath's global precision changed (and restore it)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(n): run the test body at n decimal digits of mpmath precision (mpmath.workdps) and fail it if "
        "it leaves mpmath.mp.prec changed (flowproof)")


def _marker_dps(marker: pytest.Mark) -> int:
    args = marker.args if not marker.kwargs else (*marker.args, *marker.kwargs.values())
    if len(args) != 1 or isinstance(args[0], bool) or not isinstance(args[0], int) or args[0] < 1:
        pytest.fail(f"@pytest.mark.{_MARKER} takes one positive whole number of digits, "
                                f"e.g. @pytest.mark.{_MARKER}(50); got args={marker.args} kwargs={marker.kwargs}",
                    pytrace=False)
    return args[0]


def _checking(config: pytest.Config) -> bool:
    option = config.getoption(_OPTION)
    return bool(config.getini(_OPTION)) if option is None else bool(option)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    marker = item.get_closest_marker(_MARKER)
    if marker is None and not _checking(item.config):
        return (yield)
    dps = _marker_dps(marker) if marker is not None else None
    import mpmath

    with mpmath.workdps(dps) if dps is not None else mpmath.workprec(mpmath.mp.prec):  # restores it on exit
        expected = mpmath.mp.prec
        result = yield  # an exception from the test propagates here; the context restores the precision
        after_prec, after_dps = mpmath.mp.prec, mpmath.mp.dps
    if after_prec != expected:
        where = f"@pytest.mark.{_MARKER}({dps})" if dps is not None else "--flowproof-check-precision"
        with mpmath.workprec(expected):
            expected_dps = mpmath.mp.dps
        pytest.fail(f"the test left mpmath's global precision changed ({where}): mp.prec {expected} -> "
                    f"{after_prec} (mp.dps {expected_dps} -> {after_dps}); use mpmath.workdps(n) or pass dps=n "
                    "instead of setting mp.dps (the precision has been restored)", pytrace=False)
    return result


@pytest.fixture
def flowproof_flow(request: pytest.FixtureRequest) -> Any:
    """The chapter's six-layer flow; with indirect parametrisation, ``chapter_flow(param)`` for a depth or the
    :class:`~flowproof.Flow` passed."""
    from flowproof import Flow, chapter_flow

    param = getattr(request, "param", 6)
    return param if isinstance(param, Flow) else chapter_flow(param)


@pytest.fixture
def oracle_flow() -> Callable[..., Any]:
    """A factory ``oracle_flow(K=6, phases=None, amplitude=None, frequency=None) -> Flow``: the chapter's sine
    flow, or one with your phases, amplitude and frequency (strings are exact decimals), truncated to depth
    ``K`` (default: all its layers)."""
    from flowproof import Flow, SineLayer, chapter_flow
    from flowproof.flow import CHAPTER_AMPLITUDE, CHAPTER_FREQUENCY

    def make(K: Any = None, phases: Any = None, amplitude: Any = None, frequency: Any = None) -> Any:
        if phases is None and amplitude is None and frequency is None:
            return chapter_flow(6 if K is None else K)
        base = chapter_flow(6)
        phases = [layer.phase for layer in base] if phases is None else list(phases)  # type: ignore[attr-defined]
        flow = Flow(SineLayer(CHAPTER_AMPLITUDE if amplitude is None else amplitude,
                              CHAPTER_FREQUENCY if frequency is None else frequency, phi) for phi in phases)
        return flow if K is None else flow.truncate(K)

    return make

