r"""Exact composed expressions and the two identities the chapter relies on, proved with SymPy.

For :math:`F_K = f_K \circ \cdots \circ f_1` with :math:`z_0 = x`, :math:`z_k = f_k(z_{k-1})`:

.. math::

    \text{chain rule:}\quad \frac{d}{dx} F_K(x) = \prod_{k=1}^K f_k'(z_{k-1}), \qquad
    \text{log-density:}\quad \log p_Y(F_K(x)) = \log p_X(x) - \sum_{k=1}^K \log f_k'(z_{k-1}),

where :math:`p_Y` is *derived* by the CDF route, :math:`p_Y(y) = \frac{d}{dy}\Phi(F^{-1}(y))`, not assumed.

How each is proved (the :class:`Proof` says which):

* **lemma + induction** (any depth, linear in :math:`K`): for every layer and an *undefined* inner function
  :math:`g`, SymPy shows :math:`\frac{d}{dx} f_k(g(x)) - f_k'(g(x))\,g'(x) = 0`; with :math:`F_0' = 1` and
  :math:`F_k = f_k \circ F_{k-1}` the product follows by induction.
* **expansion** (small :math:`K`): the nested :math:`\frac{d}{dx}F_K` minus the product with the chain
  substituted expands to exactly 0. The nested expression grows about 2.2x a layer, so this is only tried up to
  ``expand_depth`` layers.
* **structural zero**: the difference is 0 as built, once the logs are split using :math:`f_k' > 0`
  (which the layer's validity condition guarantees exactly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import sympy as sp

from .flow import Flow
from .layers import Layer
from .numeric import Z

__all__ = ["X", "Derivation", "NestedSize", "Proof", "composed", "derivation", "nested_sizes", "prove_chain_rule",
           "prove_derivative_form", "prove_invertibility", "prove_log_density"]

#: The base variable.
X = sp.Symbol("x", real=True)


@dataclass(frozen=True)
class Proof:
    """The outcome of proving one identity: whether it holds, how, and the steps in words."""

    name: str
    holds: bool
    method: str
    steps: tuple[str, ...] = field(default=())

    def __bool__(self) -> bool:
        return self.holds


def _check_flow(flow: Any) -> Flow:
    if not isinstance(flow, Flow):
        raise TypeError(f"expected a flowproof.Flow, got {type(flow).__name__}")
    return flow


def composed(flow: Flow, x: sp.Symbol = X) -> sp.Expr:
    """The exact nested expression :math:`F_K(x) = f_K(\\cdots f_1(x))`.

    >>> from flowproof import chapter_flow
    >>> composed(chapter_flow(1))
    x + 8*sin(2*x + 3/10)/25
    """
    expr: sp.Expr = x
    for layer in _check_flow(flow):
        expr = layer.expr(Z).xreplace({Z: expr})
    return expr


class Derivation:
    """The chain :math:`z_k = f_k(z_{k-1})`, the composed expression, its derivative, the chain-rule product and
    the summed log-derivative of a flow, with LaTeX for each (one layer a line).

    >>> from flowproof import chapter_flow
    >>> d = derivation(chapter_flow(2))
    >>> d.product
    (16*cos(2*z_0 + 3/10)/25 + 1)*(16*cos(2*z_1 + 11/10)/25 + 1)
    >>> print(d.latex_chain()[1])
    z_{2} = z_{1} + \\frac{8 \\sin{\\left(2 z_{1} + \\frac{11}{10} \\right)}}{25}
    """

    def __init__(self, flow: Flow, x: sp.Symbol = X) -> None:
        self.flow = _check_flow(flow)
        self.x = x
        #: :math:`z_0, \dots, z_K` (:math:`z_0` stands for :math:`x`).
        self.z = sp.symbols(f"z_0:{len(flow) + 1}", real=True)
        #: :math:`z_k = f_k(z_{k-1})` as equations in the chain symbols.
        self.steps = tuple(sp.Eq(self.z[k + 1], _layer_expr(layer).xreplace({Z: self.z[k]}), evaluate=False)
                           for k, layer in enumerate(flow))
        #: :math:`f_k'(z_{k-1})` for each layer (the plain derivative of the expression).
        self.layer_derivatives = tuple(_layer_derivative(layer).xreplace({Z: self.z[k]})
                                       for k, layer in enumerate(flow))
        #: :math:`\prod_k f_k'(z_{k-1})`.
        self.product = sp.Mul(*self.layer_derivatives)
        #: :math:`\sum_k \log f_k'(z_{k-1})`.
        self.log_det = sp.Add(*(sp.log(d) for d in self.layer_derivatives))
        #: :math:`\log p_X(z_0) - \sum_k \log f_k'(z_{k-1})`.
        self.log_density = -self.z[0] ** 2 / 2 - sp.log(2 * sp.pi) / 2 - self.log_det

    @cached_property
    def composed(self) -> sp.Expr:
        """:math:`F_K(x)`, nested (its size grows about 2.2x a layer)."""
        return composed(self.flow, self.x)

    @cached_property
    def derivative(self) -> sp.Expr:
        """:math:`\\frac{d}{dx} F_K(x)`, nested."""
        return sp.diff(self.composed, self.x)

    def chain_values(self) -> dict[sp.Symbol, sp.Expr]:
        """:math:`z_k \\mapsto F_k(x)`: substitutes the chain back into nested form."""
        values: dict[sp.Symbol, sp.Expr] = {self.z[0]: self.x}
        for k, layer in enumerate(self.flow):
            values[self.z[k + 1]] = layer.expr(Z).xreplace({Z: values[self.z[k]]})
        return values

    def latex_chain(self) -> list[str]:
        """``z_k = f_k(z_{k-1})``, one line per layer."""
        return [f"{sp.latex(eq.lhs)} = {sp.latex(eq.rhs)}" for eq in self.steps]

    def latex_product(self) -> str:
        """The chain rule, :math:`F_K'(x) = \\prod_k f_k'(z_{k-1})`."""
        return rf"F_{{{len(self.flow)}}}'(x) = {sp.latex(self.product)}"

    def latex_log_density(self) -> str:
        r"""The summed log-density, :math:`\log p_Y(z_K) = \log p_X(z_0) - \sum_k \log f_k'(z_{k-1})`."""
        return rf"\log p_Y(z_{{{len(self.flow)}}}) = {sp.latex(self.log_density)}"

    def latex_composed(self) -> str:
        """The nested :math:`F_K(x)` (readable for small :math:`K` only; prefer :meth:`latex_chain`)."""
        return rf"F_{{{len(self.flow)}}}(x) = {sp.latex(self.composed)}"

    def latex_derivative(self) -> str:
        """The nested :math:`F_K'(x)` (grows about 2.2x a layer)."""
        return rf"F_{{{len(self.flow)}}}'(x) = {sp.latex(self.derivative)}"

    def latex(self, nested_depth: int = 3) -> dict[str, object]:
        """All LaTeX at once: ``chain`` (a list of lines), ``product``, ``log_density``, and ``composed`` and
        ``derivative`` when ``K <= nested_depth``."""
        out: dict[str, object] = {"chain": self.latex_chain(), "product": self.latex_product(),
                                  "log_density": self.latex_log_density()}
        if len(self.flow) <= nested_depth:
            out["composed"], out["derivative"] = self.latex_composed(), self.latex_derivative()
        return out


@lru_cache(maxsize=4096)
def _layer_expr(layer: Layer) -> sp.Expr:
    return layer.expr(Z)


@lru_cache(maxsize=4096)
def _layer_derivative(layer: Layer) -> sp.Expr:
    return sp.diff(layer.expr(Z), Z)


def derivation(flow: Flow, x: sp.Symbol = X) -> Derivation:
    """The :class:`Derivation` of ``flow``."""
    return Derivation(flow, x)


@lru_cache(maxsize=4096)
def _lemma_chain_rule(layer: Layer, x: sp.Symbol) -> bool:
    r""":math:`\frac{d}{dx} f(g(x)) = f'(g(x))\, g'(x)` for an undefined :math:`g`."""
    g = sp.Function("g")(x)
    outer = sp.diff(layer.expr(Z), Z).xreplace({Z: g})
    return sp.expand(sp.diff(layer.expr(Z).xreplace({Z: g}), x) - outer * sp.diff(g, x)) == 0


def prove_chain_rule(flow: Flow, expand_depth: int = 6) -> Proof:
    """Prove :math:`F_K' = \\prod_k f_k'(z_{k-1})` by lemma + induction, and by expansion when
    ``len(flow) <= expand_depth``."""
    name = "chain rule"
    _check_flow(flow)
    steps = []
    for k, layer in enumerate(flow, start=1):
        if not _lemma_chain_rule(layer, X):
            return Proof(name, False, "lemma + induction", (f"the one-layer lemma fails for layer {k}: {layer}",))
    steps.append(f"lemma d/dx f_k(g(x)) = f_k'(g(x)) g'(x) holds for each of the {len(flow)} layers "
                 "(g undefined; expands to 0)")
    steps.append("induction: F_0' = 1 (empty product), F_k' = f_k'(F_{k-1}) F_{k-1}'")
    method = "lemma + induction"
    if len(flow) <= expand_depth:
        d = Derivation(flow)
        difference = sp.expand(d.derivative - d.product.xreplace(d.chain_values()))
        if difference != 0:
            return Proof(name, False, "expansion", (*steps, "the nested derivative minus the product does not "
                                                                "expand to 0"))
        steps.append(f"direct: nested d/dx F_{len(flow)} minus the substituted product expands to 0")
        method = "lemma + induction; expansion"
    return Proof(name, True, method, tuple(steps))


@dataclass(frozen=True)
class NestedSize:
    """Operation counts (``sympy.count_ops``) of the fully nested :math:`F_k` and :math:`F_k'`."""

    depth: int
    operations: int
    derivative_operations: int


def nested_sizes(flow: Flow) -> list[NestedSize]:
    r"""The sizes of the fully nested :math:`F_k` and :math:`F_k'` as SymPy builds them, for :math:`k = 1..K`,
    by recurrence from each layer's own expression, without building them (they grow about 2.2x a layer).

    The nested tree holds :math:`F_{k-1}` once per occurrence :math:`n_k` of :math:`z` in :math:`f_k`, so
    :math:`e_k = n_k e_{k-1} + c_k` with :math:`c_k` the operations of :math:`f_k` itself. For
    :math:`f_k(z) = z + g_k(z)` (the ripple families), SymPy's derivative is
    :math:`F_{k-1}' + g_k'(F_{k-1}) F_{k-1}'`, so :math:`d_k = 2 d_{k-1} + m_k e_{k-1} + c_k' + 2` with
    :math:`m_k, c_k'` the occurrences of :math:`z` in and the operations of :math:`g_k'`; otherwise
    :math:`F_k' = f_k'(F_{k-1}) F_{k-1}'` and :math:`d_k = d_{k-1} + m_k e_{k-1} + c_k' + 1` with :math:`m_k, c_k'`
    those of :math:`f_k'`. The first layer is counted directly. The counts are those of a tree (a shared
    subexpression counts each time), as ``count_ops`` reports for the built expression; the tests check the
    recurrence against building it.
    """
    sizes: list[NestedSize] = []
    e = d = 0
    for k, layer in enumerate(_check_flow(flow), start=1):
        f = sp.expand(layer.expr(Z))
        slope = sp.diff(f, Z)
        if k == 1:
            e, d = sp.count_ops(f), sp.count_ops(slope)
        else:
            ripple = sp.expand(f - Z)
            if ripple.has(Z) and f.is_Add and Z in f.args:
                g_slope = sp.diff(ripple, Z)
                e, d = (_occurrences(f) * e + sp.count_ops(f),
                        2 * d + _occurrences(g_slope) * e + sp.count_ops(g_slope) + 2)
            else:
                e, d = (_occurrences(f) * e + sp.count_ops(f),
                        d + _occurrences(slope) * e + sp.count_ops(slope) + 1)
        sizes.append(NestedSize(k, int(e), int(d)))
    return sizes


def _occurrences(expr: sp.Expr) -> int:
    return sum(1 for node in sp.preorder_traversal(expr) if node == Z)


def prove_derivative_form(layer: Layer) -> Proof:
    """Prove that the form of :math:`f'` used for floating point equals the derivative of :math:`f`."""
    difference = sp.diff(layer.expr(Z), Z) - layer.derivative_expr(Z)
    holds = difference == 0 or sp.expand(difference.rewrite(sp.exp)) == 0 or sp.simplify(difference) == 0
    return Proof("numeric form of f'", bool(holds), "structural zero after rewriting in exp",
                 (f"d/dz f(z) - ({sp.sstr(layer.derivative_expr(Z))}) = 0",))


def prove_invertibility(flow: Flow) -> Proof:
    """:math:`F' \\ge \\prod_k m_k > 0` from each layer's exact bound :math:`f_k' \\ge m_k`, and
    :math:`|F(x) - x| \\le \\sum_k D_k`, so :math:`F` is a strictly increasing bijection of :math:`\\mathbb{R}`."""
    bounds = [layer.derivative_lower_bound() for layer in _check_flow(flow)]
    bad = [k for k, m in enumerate(bounds, start=1) if not bool(m > 0)]
    bound = flow.derivative_lower_bound()
    steps = (f"per-layer exact bounds f_k' >= {', '.join(map(str, bounds)) or '(none)'}",
             f"F' >= {bound} > 0 and |F(x) - x| <= {flow.displacement_bound()}: F is an increasing bijection of R")
    if bad:
        return Proof("invertibility", False, "exact bound", (f"layers {bad} have no positive bound on f'",))
    return Proof("invertibility", True, "exact bound (validity condition)", steps)


def prove_log_density(flow: Flow) -> Proof:
    r"""Prove :math:`\log p_Y(F(x)) = \log p_X(x) - \sum_k \log f_k'(z_{k-1})` with :math:`p_Y` derived from the
    CDF :math:`P(Y \le y) = \Phi(G(y))`, :math:`G = F^{-1}`."""
    name = "log-density"
    inv = prove_invertibility(_check_flow(flow))
    if not inv:
        return Proof(name, False, "CDF route", ("F is not shown increasing: the CDF route does not apply",))
    x, y = X, sp.Symbol("y", real=True)
    G, F = sp.Function("G"), sp.Function("F")(x)
    phi = sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)

    # 1. CDF route: F increasing, so P(Y <= y) = P(X <= G(y)) = Phi(G(y)); differentiate.
    cdf = (1 + sp.erf(G(y) / sp.sqrt(2))) / 2
    p_y = sp.diff(cdf, y)
    step1 = sp.simplify(p_y - phi.xreplace({x: G(y)}) * sp.diff(G(y), y)) == 0
    # 2. Inverse function theorem: d/dx G(F(x)) = 1, so G'(F(x)) = 1/F'(x).
    g_prime = sp.Symbol("G'(F(x))")
    identity = sp.diff(G(F), x).replace(lambda e: isinstance(e, sp.Derivative) and e.expr == G(F), lambda e: g_prime)
    solved = sp.solve(sp.Eq(identity, 1), g_prime)
    step2 = solved == [1 / sp.diff(F, x)]
    # 3. At y = F(x): p_Y(F(x)) = phi(x) / F'(x); F' > 0 splits the log.
    dF = sp.Symbol("F'(x)", positive=True)
    p_at = (p_y.xreplace({sp.diff(G(y), y): 1 / dF}).xreplace({G(y): x}))
    log_p = sp.expand_log(sp.log(p_at), force=False)
    # 4. Chain rule: F'(x) = prod_k f_k'(z_{k-1}), each factor > 0 (validity), so log F' = sum_k log f_k'.
    d = Derivation(flow)
    positive = [sp.Dummy(f"d{k}", positive=True) for k in range(len(flow))]
    log_product = sp.expand_log(sp.log(sp.Mul(*positive)))
    step4 = sp.expand(log_product - sp.Add(*(sp.log(p) for p in positive))) == 0
    # 5. Put the factors back (by position: several may be equal, or the constant 1) and compare with the formula.
    derived = sp.expand_log(log_p.xreplace({dF: sp.Mul(*positive)}))
    derived = derived.xreplace(dict(zip(positive, d.layer_derivatives, strict=True)))
    claimed = d.log_density
    step5 = sp.expand(sp.expand_log(derived.xreplace({x: d.z[0]}) - claimed)) == 0
    chain = prove_chain_rule(flow, expand_depth=-1)
    holds = bool(step1 and step2 and step4 and step5 and chain)
    steps = (f"p_Y(y) = d/dy Phi(G(y)) = phi(G(y)) G'(y): {'shown' if step1 else 'FAILED'}",
             f"G'(F(x)) = 1/F'(x) from d/dx G(F(x)) = 1: {'shown' if step2 else 'FAILED'}",
             "F' > 0 (" + inv.method + ") splits log(phi(x)/F'(x)) = log phi(x) - log F'(x)",
             f"F' = prod f_k'(z_(k-1)) (chain rule, {chain.method}); log of a product of positives is the sum: "
             f"{'shown' if step4 else 'FAILED'}",
             f"log p_Y(F(x)) - [log p_X(x) - sum_k log f_k'(z_(k-1))] = 0: {'structural zero' if step5 else 'FAILED'}")
    return Proof(name, holds, "CDF route; lemma + induction; structural zero", steps)
