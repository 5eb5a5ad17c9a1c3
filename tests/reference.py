"""Independent plain-mpmath reference for the chapter flow (does NOT import flowproof).

Written from the formula only:

    f_k(z) = z + a_k sin(w z + phi_k),   a = 8/25, w = 2,
    phi = 3/10, 11/10, 2, 29/10, 41/10, 53/10   (layers 1..6, layer 1 applied first),
    F = f_K o ... o f_1;   a fractional depth K = n + t takes layer n+1 with amplitude t*a.

Every constant is an exact rational (``fractions.Fraction``) turned into an ``mpf`` only at the working
precision of the caller (``mpf(p) / q``), never through a float.  Every public function takes ``dps`` and works
at ``dps + GUARD`` digits inside ``mpmath.workdps`` so the global precision is untouched.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath

GUARD = 20

AMPLITUDE = Fraction(8, 25)
FREQUENCY = Fraction(2)
PHASES = (Fraction(3, 10), Fraction(11, 10), Fraction(2), Fraction(29, 10), Fraction(41, 10), Fraction(53, 10))


def exact_fraction(value) -> Fraction:
    """int, decimal string (exact decimal), Fraction or float (exact binary value) as a Fraction."""
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, (int, Fraction, str)):
        return Fraction(value)
    if isinstance(value, float):
        num, den = value.as_integer_ratio()
        return Fraction(num, den)
    raise TypeError(f"reference cannot take {type(value).__name__}")


def chapter_layers(K=6):
    """[(a, w, phi)] as exact Fractions for the chapter flow of depth K (int, str or Fraction)."""
    k = exact_fraction(K)
    assert 0 <= k <= 6
    full = math.floor(k)
    t = k - full
    layers = [(AMPLITUDE, FREQUENCY, PHASES[i]) for i in range(full)]
    if t:
        layers.append((t * AMPLITUDE, FREQUENCY, PHASES[full]))
    return layers


def mp(value) -> mpmath.mpf:
    """An exact number as an mpf at the CURRENT precision (call inside workdps)."""
    if isinstance(value, mpmath.mpf):
        return +value
    if isinstance(value, float):
        return mpmath.mpf(value)  # a double is exact at >= 53 bits
    fr = exact_fraction(value)
    return mpmath.mpf(fr.numerator) / fr.denominator


def _layers_mp(layers):
    return [(mp(a), mp(w), mp(phi)) for a, w, phi in layers]


def _chain(layers_mp, x):
    """(F(x), F'(x), log F'(x)) at the current precision."""
    z, deriv, logdet = x, mpmath.mpf(1), mpmath.mpf(0)
    for a, w, phi in layers_mp:
        arg = w * z + phi
        d = 1 + a * w * mpmath.cos(arg)
        deriv *= d
        logdet += mpmath.log(d)
        z = z + a * mpmath.sin(arg)
    return z, deriv, logdet


def forward(x, K=6, dps=50, layers=None) -> mpmath.mpf:
    layers = chapter_layers(K) if layers is None else layers
    with mpmath.workdps(dps + GUARD):
        return _chain(_layers_mp(layers), mp(x))[0]


def log_det(x, K=6, dps=50, layers=None) -> mpmath.mpf:
    layers = chapter_layers(K) if layers is None else layers
    with mpmath.workdps(dps + GUARD):
        return _chain(_layers_mp(layers), mp(x))[2]


def inverse(y, K=6, dps=50, layers=None) -> mpmath.mpf:
    """F^{-1}(y) to about dps + 15 digits: bisection on the COMPOSED F, then Newton on the composed F,
    then certified by the sign change F(x - e) < y < F(x + e)."""
    layers = chapter_layers(K) if layers is None else layers
    with mpmath.workdps(dps + GUARD):
        ls = _layers_mp(layers)
        yy = mp(y)
        if not ls:
            return yy
        D = sum(abs(a) for a, _, _ in ls)
        lo, hi = yy - D - 1, yy + D + 1
        for _ in range(80):
            mid = (lo + hi) / 2
            if _chain(ls, mid)[0] < yy:
                lo = mid
            else:
                hi = mid
        x = (lo + hi) / 2
        scale = max(mpmath.mpf(1), abs(yy))
        tol = scale * mpmath.mpf(10) ** (-(dps + GUARD - 3))
        for _ in range(60):
            fx, dfx, _ = _chain(ls, x)
            step = (fx - yy) / dfx
            x -= step
            if abs(step) <= tol:
                break
        else:
            raise ArithmeticError("reference Newton did not converge")
        e = scale * mpmath.mpf(10) ** (-(dps + 15))
        assert _chain(ls, x - e)[0] < yy < _chain(ls, x + e)[0], "reference inverse not certified"
        return x


def log_normal_pdf(x) -> mpmath.mpf:
    return -x * x / 2 - mpmath.log(2 * mpmath.pi) / 2


def log_prob(y, K=6, dps=50, layers=None) -> mpmath.mpf:
    layers = chapter_layers(K) if layers is None else layers
    x = inverse(y, dps=dps, layers=layers)
    with mpmath.workdps(dps + GUARD):
        return log_normal_pdf(x) - _chain(_layers_mp(layers), x)[2]


def cdf(y, K=6, dps=50, layers=None) -> mpmath.mpf:
    layers = chapter_layers(K) if layers is None else layers
    x = inverse(y, dps=dps, layers=layers)
    with mpmath.workdps(dps + GUARD):
        return mpmath.ncdf(x)


def normal_quantile(u, dps=50) -> mpmath.mpf:
    """Phi^{-1}(u) for 0 < u < 1 by Newton on ncdf (relative accuracy in both tails)."""
    with mpmath.workdps(dps + GUARD):
        uu = mp(u)
        assert 0 < uu < 1
        lower = uu <= mpmath.mpf(1) / 2
        p = uu if lower else 1 - uu  # solve ncdf(-|x|) = p
        guard = int(-mpmath.log10(p)) + 5
    with mpmath.workdps(dps + GUARD + guard):
        uu = mp(u)
        p = uu if lower else 1 - uu
        x = -mpmath.sqrt(2) * mpmath.erfinv(1 - 2 * p)
        for _ in range(50):
            step = (mpmath.ncdf(x) - p) / mpmath.npdf(x)
            x -= step
            if abs(step) <= abs(x) * mpmath.mpf(10) ** (-(dps + GUARD)):
                break
        x = x if lower else -x
    with mpmath.workdps(dps + GUARD):
        return +x


def icdf(u, K=6, dps=50, layers=None) -> mpmath.mpf:
    layers = chapter_layers(K) if layers is None else layers
    x = normal_quantile(u, dps=dps)
    with mpmath.workdps(dps + GUARD):
        return _chain(_layers_mp(layers), x)[0]


def err(a, b, dps=50) -> mpmath.mpf:
    """|a - b| evaluated at dps + GUARD digits (so the subtraction itself is not at 15 digits)."""
    with mpmath.workdps(dps + GUARD):
        return abs(mpmath.mpf(a) - mpmath.mpf(b))


def scaled_err(a, b, dps=50) -> mpmath.mpf:
    """|a - b| / max(1, |b|) at dps + GUARD digits."""
    with mpmath.workdps(dps + GUARD):
        b = mpmath.mpf(b)
        return abs(mpmath.mpf(a) - b) / max(mpmath.mpf(1), abs(b))


def ulps(value: float, exact) -> float:
    """Distance of a double from an exact mpf, in units of the spacing of doubles at the exact value."""
    with mpmath.workdps(60):
        exact = mpmath.mpf(exact)
        spacing = math.ulp(float(exact)) if exact != 0 else math.ulp(0.0)
        return float(abs(mpmath.mpf(float(value)) - exact) / spacing)


def scaled_ulps(value: float, exact) -> float:
    """|value - exact| in units of one ulp of max(1, |exact|) (the natural scale when F(x) can cancel to ~0)."""
    with mpmath.workdps(60):
        exact = mpmath.mpf(exact)
        return float(abs(mpmath.mpf(float(value)) - exact) / math.ulp(max(1.0, abs(float(exact)))))
