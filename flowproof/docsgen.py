r"""Derivation pages: the LaTeX that :mod:`flowproof.symbolic` generates and proves, beside the figures that
:mod:`flowproof.plots` draws from the same flow.

:func:`write_pages` writes reStructuredText pages (and their figures) for any flow, so an author can put proven
pages for their own flow in their own Sphinx docs; flowproof's documentation builds its derivation pages for the
chapter's flow with it. The pages:

* ``composition``: :math:`z_k = f_k(z_{k-1})`, one layer a line, and why the composition is invertible;
* ``chain-rule``: :math:`F_K' = \prod_k f_k'(z_{k-1})` and how it was proved;
* ``log-density``: :math:`\log p_Y = \log p_X - \sum_k \log f_k'` by the CDF route, and the sampling check;
* ``inverse``: the layer-by-layer inverse with its evidence at high precision;
* ``fractional-depth``: the partial top layer :math:`(1 - t) z + t f(z)`;
* ``walk``: the chapter's walk through the depths with the measured modes and which of its words hold.

Every file is written to a temporary directory first and moved into place when all are done, so an interrupted
run leaves nothing half-written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import mpmath
import sympy as sp

from . import symbolic
from .exact import exact_depth
from .flow import Flow
from .verify import default_depths, depth_label

__all__ = ["PAGES", "write_pages"]

PAGES = ("composition", "chain-rule", "log-density", "inverse", "fractional-depth", "walk")


def write_pages(flow: Flow, outdir: str | os.PathLike[str], depths: Sequence[Any] | None = None, dps: int = 50,
                title: str | None = None, progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write ``index.rst``, one page per topic in :data:`PAGES` and ``figures/*.png`` for ``flow`` into ``outdir``.

    Args:
        flow: the full flow (depths are truncations of it).
        outdir: the folder to write; created if missing.
        depths: the depths to show (default ``0..K`` and one fractional depth, as in ``flowproof verify``).
        dps: digits for the high-precision evidence on the inverse page.
        title: the index page's title.
        progress: called with each file written.

    Returns:
        The paths written.
    """
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a directory")
    depths = list(default_depths(len(flow)) if depths is None else depths)
    for depth in depths:
        flow.truncate(depth)  # validates every depth before anything is written
    from . import plots  # matplotlib only when pages are drawn

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as tmp:
        work = Path(tmp)
        figures = [p.name for p in plots.write_figures(flow, work / "figures", depths=_figure_depths(flow, depths))]
        pages = {
            "index": _index(flow, title),
            "composition": _composition(flow, depths),
            "chain-rule": _chain_rule(flow, depths),
            "log-density": _log_density(flow, depths),
            "inverse": _inverse(flow, dps),
            "fractional-depth": _fractional(flow, depths),
            "walk": _walk(flow, depths),
        }
        for name, text in pages.items():
            (work / f"{name}.rst").write_text(text, encoding="utf-8")
        written = []
        (out / "figures").mkdir(parents=True, exist_ok=True)
        for relative in [f"{name}.rst" for name in pages] + [f"figures/{name}" for name in figures]:
            os.replace(work / relative, out / relative)
            written.append(out / relative)
            if progress is not None:
                progress(str(out / relative))
    return written


def _figure_depths(flow: Flow, depths: Sequence[Any]) -> list[Any]:
    """The chapter's picture shows K = 0, 1, 3, the full depth and a fractional K, where the flow has them."""
    wanted = [0, 1, 3, len(flow)]
    chosen = [d for d in depths if exact_depth(d) in wanted or exact_depth(d).q != 1]
    return list(dict.fromkeys(chosen))[:6] or list(depths)[:6]


def _heading(text: str, mark: str = "=") -> str:
    return f"{text}\n{mark * len(text)}\n\n"


def _math(lines: Sequence[str]) -> str:
    body = "\n\n".join(f"   {line}" for line in lines)
    return f".. math::\n\n{body}\n\n"


def _figure(name: str, caption: str) -> str:
    return f".. figure:: figures/{name}\n   :width: 100%\n   :alt: {caption}\n\n   {caption}\n\n"


def _steps(steps: Sequence[str]) -> str:
    return "".join(f"* {_rst_escape(step)}\n" for step in steps) + "\n"


def _rst_escape(text: str) -> str:
    return "".join("\\" + c if c in "*_`|" else c for c in text)


def _describe(flow: Flow) -> str:
    return ", ".join(f":math:`{sp.latex(layer.expr(sp.Symbol('z')))}`" for layer in flow)


def _index(flow: Flow, title: str | None) -> str:
    text = _heading(title or f"Derivations for a {len(flow)}-layer flow")
    text += ("Every formula on these pages was generated by ``flowproof.symbolic`` from the flow's exact SymPy "
             "expressions and proved there; every figure was drawn from the same flow by ``flowproof.plots``. "
             f"The layers, applied in this order: {_describe(flow)}.\n\n")
    text += ".. toctree::\n   :maxdepth: 1\n\n" + "".join(f"   {page}\n" for page in PAGES) + "\n"
    return text


def _composition(flow: Flow, depths: Sequence[Any]) -> str:
    d = symbolic.derivation(flow)
    proof = symbolic.prove_invertibility(flow)
    text = _heading("Composition and invertibility")
    text += ("The flow applies its layers in order, :math:`F_K = f_K \\circ \\cdots \\circ f_1`, one intermediate "
             "value per layer:\n\n")
    text += _math([r"z_{0} = x", *d.latex_chain()])
    text += ("Each layer is strictly increasing with a positive lower bound on its derivative and moves points by a "
             "bounded amount, so the composition is a strictly increasing bijection of the real line and is "
             f"inverted by inverting the layers in reverse order. Proved ({proof.method}):\n\n")
    text += _steps(proof.steps)
    text += _figure("chapter.png", "The base density with coloured samples (top) and the density after K layers "
                                   "with the same samples pushed through (bottom).")
    return text


def _chain_rule(flow: Flow, depths: Sequence[Any]) -> str:
    text = _heading("The chain rule")
    text += ("The derivative of the composition is the product of the layer derivatives, each evaluated at the "
             "chain of intermediate values:\n\n")
    for depth in depths:
        sub = flow.truncate(depth)
        if len(sub) == 0:
            continue
        proof = symbolic.prove_chain_rule(sub)
        text += _heading(f"K = {depth_label(depth)}", "-")
        text += _math([symbolic.derivation(sub).latex_product()])
        text += f"Proved by {proof.method}:\n\n" + _steps(proof.steps)
    small = flow.truncate(min(2, len(flow)))
    if len(small):
        text += _heading("The nested form, for comparison", "-")
        text += ("For two layers the nested derivative is already long; it grows about 2.2x a layer, which is why "
                 "the proof works on the chain of intermediate symbols instead:\n\n")
        text += _math([symbolic.derivation(small).latex_derivative()])
    text += _figure("log_density_terms.png", "log p_Y and its per-layer terms.")
    return text


def _log_density(flow: Flow, depths: Sequence[Any]) -> str:
    proof = symbolic.prove_log_density(flow)
    text = _heading("The log-density adds up")
    text += ("With :math:`p_Y` derived from the CDF, :math:`P(Y \\le y) = \\Phi(F^{-1}(y))` (F is increasing), "
             "the change of variables turns the product into a sum:\n\n")
    text += _math([symbolic.derivation(flow).latex_log_density()])
    text += f"Proved ({proof.method}):\n\n" + _steps(proof.steps)
    text += _figure("log_density_terms.png", "log p_Y(y) = log p_X(x) minus one term per layer, stacked.")
    text += _figure("histogram.png", "Samples pushed through the flow against the exact density: sampling and "
                                     "density agree.")
    return text


def _inverse(flow: Flow, dps: int) -> str:
    text = _heading("Inverting the stack")
    text += ("The inverse applies the layer inverses in reverse order, :math:`x = f_1^{-1}(\\cdots f_K^{-1}(y))`; "
             "each is a 1D root find inside the layer's bracket :math:`[y - D, y + D]`, by safeguarded Newton (the "
             "default) or the chapter's bisection, with the step count derived from the precision. At "
             f"{dps} digits:\n\n")
    rows = [("y", "x = F^-1(y)", "bracket width", "residual", "steps per layer")]
    for text_y in ("-2", "0", "0.5", "1e3"):
        r = flow.inverse(text_y, dps=dps)
        lo, hi = r.bracket
        rows.append((text_y, mpmath.nstr(r.x, 20), mpmath.nstr(hi - lo, 3), mpmath.nstr(r.residual, 3),
                     ", ".join(map(str, r.layer_steps)) or "(identity)"))
    text += _table(rows)
    text += ("The bracket is the evidence: :math:`F(\\ell) \\le y \\le F(h)` was checked at the working precision, "
             "and since F is increasing the true preimage lies between.\n\n")
    return text


def _fractional(flow: Flow, depths: Sequence[Any]) -> str:
    text = _heading("Fractional depth")
    text += ("A depth :math:`K = n + t` with :math:`0 < t < 1` means the first n layers in full and the next taken "
             "a fraction t of the way, :math:`(1 - t) z + t f(z)`: still increasing, so still a flow.\n\n")
    for depth in depths:
        if exact_depth(depth).q == 1:
            continue
        text += _heading(f"K = {depth_label(depth)}", "-")
        text += _math(symbolic.derivation(flow.truncate(depth)).latex_chain()[-1:])
    text += _figure("sample_paths.png", "Coloured samples as K sweeps from 0 to the full depth in small fractional "
                                        "steps.")
    return text


def _walk(flow: Flow, depths: Sequence[Any]) -> str:
    from . import claims

    text = _heading("A walk through the depths")
    text += ("A mode is a strict local maximum of :math:`p_Y`. With :math:`L(x) = \\log p_X(x) - \\log F'(x)` and "
             ":math:`F' > 0`,\n\n")
    text += _math([r"\frac{d}{dy} \log p_Y(y) = \frac{L'(x)}{F'(x)}, \qquad y = F(x),"])
    text += ("so every critical point of :math:`p_Y` is the image of a root of :math:`L'`, with the same sign "
             "change. ``flowproof.modes`` finds all of them in a range proved to hold every root, on intervals "
             "proved to hide no further pair, each sign change verified at high precision:\n\n")
    text += _literal(claims.mode_lines(flow, depths))
    text += _figure("chapter.png", "The densities after K layers.")
    text += _heading("What the chapter says, measured", "-")
    text += "Which of the chapter's words hold for this flow, and by what measure:\n\n"
    text += _literal(claims.claims_table(claims.check_claims(flow)).splitlines())
    return text


def _literal(lines: Sequence[str]) -> str:
    return "::\n\n" + "".join(f"   {line}\n" for line in lines) + "\n"


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(c.ljust(w) for c, w in zip(rows[0], widths, strict=True)), rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows[1:]]
    return "\n".join([*lines, rule]) + "\n\n"


