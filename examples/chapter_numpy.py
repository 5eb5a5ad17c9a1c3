r"""The chapter's flow written by hand in numpy, the way a researcher would, plus two subtly broken variants.

Nothing here imports flowproof: this is "other people's flow code". ``test_chapter_numpy.py`` beside it checks
it against flowproof's exact oracle with :mod:`flowproof.testing`.

The flow: :math:`z_0 = x`, :math:`z_k = z_{k-1} + a \sin(w z_{k-1} + \varphi_k)`, :math:`y = z_K`, with
:math:`a = 0.32`, :math:`w = 2` and the six phases below, on a standard normal base, so

.. math::

    \log F'(x) = \sum_k \log\bigl(1 + a w \cos(w z_{k-1} + \varphi_k)\bigr),\qquad
    \log p_Y(y) = \log \mathcal{N}(x) - \log F'(x),\quad x = F^{-1}(y).
"""

from __future__ import annotations

import numpy as np

AMPLITUDE = 0.32
FREQUENCY = 2.0
PHASES = (0.3, 1.1, 2.0, 2.9, 4.1, 5.3)


class ChapterFlow:
    """Forward, log-determinant, inverse and log-density of the chapter's flow, vectorised over points."""

    def __init__(self, phases=PHASES, amplitude=AMPLITUDE, frequency=FREQUENCY):
        self.phases, self.a, self.w = tuple(phases), amplitude, frequency

    def forward(self, x):
        z = np.asarray(x, dtype=float)
        for phi in self.phases:
            z = z + self.a * np.sin(self.w * z + phi)
        return z

    def log_det(self, x):
        z = np.asarray(x, dtype=float)
        total = np.zeros_like(z)
        for phi in self.phases:
            total = total + np.log1p(self.a * self.w * np.cos(self.w * z + phi))
            z = z + self.a * np.sin(self.w * z + phi)
        return total

    def inverse(self, y):
        """Undo the layers in reverse order; each layer moves a point by at most |a|, so its preimage lies in
        [y - |a|, y + |a|], where bisection finds it."""
        z = np.asarray(y, dtype=float)
        for phi in reversed(self.phases):
            z = self._invert_layer(z, phi)
        return z

    def _invert_layer(self, y, phi):
        lo, hi = y - abs(self.a), y + abs(self.a)
        for _ in range(60):  # the bracket shrinks from 0.64 to below 1e-18
            mid = (lo + hi) / 2
            below = mid + self.a * np.sin(self.w * mid + phi) < y
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return (lo + hi) / 2

    def log_prob(self, y):
        x = self.inverse(y)
        return -0.5 * x**2 - 0.5 * np.log(2 * np.pi) - self.log_det(x)


class SignFlipped(ChapterFlow):
    """Broken: returns the inverse map's log-determinant, -log F'(x) (a classic sign slip), so its log-density
    adds the log-determinant instead of subtracting it."""

    def log_det(self, x):
        return -super().log_det(x)


class FixedBracket(ChapterFlow):
    """Broken: inverts the whole flow by bisection in a fixed bracket [-10, 10] (like a default search bound),
    so every y beyond F(10) comes back clamped near the bracket's end. It looks right on every y a standard
    normal sample is likely to produce."""

    BOUND = 10.0

    def inverse(self, y):
        y = np.asarray(y, dtype=float)
        lo, hi = np.full_like(y, -self.BOUND), np.full_like(y, self.BOUND)
        for _ in range(80):
            mid = (lo + hi) / 2
            below = self.forward(mid) < y
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return (lo + hi) / 2
