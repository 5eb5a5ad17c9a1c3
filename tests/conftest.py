"""Shared fixtures: the mpmath-precision guard, and access to the independent reference in ``reference.py``."""

from __future__ import annotations

import os
import sys

import mpmath
import pytest

# --import-mode=importlib does not put tests/ on sys.path; the plain-mpmath reference lives next to this file.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(autouse=True)
def mpmath_precision_unchanged():
    """Fail any test after which mpmath's global precision differs from before it (and restore it)."""
    prec_before = mpmath.mp.prec
    yield prec_before
    prec_after = mpmath.mp.prec
    if prec_after != prec_before:
        mpmath.mp.prec = prec_before
        pytest.fail(f"mpmath.mp.prec changed from {prec_before} to {prec_after} during the test", pytrace=False)
