r"""The base distribution :math:`X \sim \mathcal{N}(0, 1)`: log-density, CDF and quantile, in float64 and mpmath.

.. math::

    \log p_X(x) = -\tfrac{x^2}{2} - \tfrac12 \log 2\pi, \qquad
    \Phi(x) = \tfrac12 \operatorname{erfc}(-x/\sqrt2), \qquad
    \Phi^{-1}(u) = \sqrt2 \operatorname{erf}^{-1}(2u - 1).

The float64 versions use :mod:`scipy.special` (``ndtr`` and ``ndtri`` are accurate in both tails).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
from scipy import special

__all__ = ["normal_cdf", "normal_cdf_mp", "normal_icdf", "normal_icdf_mp", "normal_log_pdf",
           "normal_log_pdf_mp"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def normal_log_pdf(x: np.ndarray) -> np.ndarray:
    """float64 :math:`\\log p_X(x)`; :math:`-\\infty` at :math:`\\pm\\infty`."""
    with np.errstate(over="ignore"):
        return -0.5 * x * x - _HALF_LOG_2PI


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """float64 :math:`\\Phi(x)`."""
    return special.ndtr(x)


def normal_icdf(u: np.ndarray) -> np.ndarray:
    """float64 :math:`\\Phi^{-1}(u)`; :math:`\\pm\\infty` at 1 and 0, NaN outside :math:`[0, 1]`."""
    return special.ndtri(u)


def normal_log_pdf_mp(x: mpmath.mpf) -> mpmath.mpf:
    """:math:`\\log p_X(x)` at the current working precision."""
    return -x * x / 2 - mpmath.log(2 * mpmath.pi) / 2


def normal_cdf_mp(x: mpmath.mpf) -> mpmath.mpf:
    r""":math:`\Phi(x)` at the current working precision (relative accuracy in the lower tail).

    Beyond :math:`|x| = 10^{10}` (``mpmath.ncdf`` overflows for huge arguments) the asymptotic series
    :math:`\Phi(-t) = \frac{\varphi(t)}{t} \sum_n (-1)^n \frac{(2n-1)!!}{t^{2n}}` is summed until its terms drop
    below the working precision (two or three terms there).
    """
    if not mpmath.isfinite(x) or abs(x) <= 10**10:
        return mpmath.ncdf(x)
    t = abs(x)
    term, total, n = mpmath.mpf(1), mpmath.mpf(1), 0
    while abs(term) > mpmath.eps:
        n += 1
        term *= -(2 * n - 1) / (t * t)
        total += term
    lower = mpmath.exp(-t * t / 2) / (t * mpmath.sqrt(2 * mpmath.pi)) * total
    return lower if x < 0 else 1 - lower


def normal_icdf_mp(u: mpmath.mpf, dps: int) -> mpmath.mpf:
    r""":math:`\Phi^{-1}(u)` to ``dps`` digits for :math:`0 \le u \le 1`.

    :math:`\operatorname{erf}^{-1}` near :math:`\pm 1` loses as many digits as :math:`\min(u, 1 - u)` has
    leading zeros, so those are added as guard digits.
    """
    if u == 0:
        return mpmath.mpf("-inf")
    if u == 1:
        return mpmath.mpf("inf")
    tail = min(u, 1 - u)
    guard = 10 + max(0, int(-mpmath.log10(tail)))
    with mpmath.workdps(dps + guard):
        return mpmath.sqrt(2) * mpmath.erfinv(2 * u - 1) if u >= 0.5 else -mpmath.sqrt(2) * mpmath.erfinv(1 - 2 * u)
