"""The Sphinx docs build with warnings as errors, with the derivations beside their figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")
pytest.importorskip("furo")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", str(ROOT / "docs"),
                             str(out)], capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_docs_build_with_warnings_as_errors(built):
    assert (built / "index.html").is_file()


@pytest.mark.parametrize("page", ["composition", "chain-rule", "log-density", "inverse", "fractional-depth", "walk"])
def test_each_derivation_page_has_its_math(built, page):
    html = (built / "derivations" / f"{page}.html").read_text(encoding="utf-8")
    assert "math" in html


@pytest.mark.parametrize("page, figure", [("composition", "chapter.png"), ("log-density", "histogram.png"),
                                          ("chain-rule", "log_density_terms.png"),
                                          ("fractional-depth", "sample_paths.png")])
def test_derivation_sits_beside_its_figure(built, page, figure):
    html = (built / "derivations" / f"{page}.html").read_text(encoding="utf-8")
    assert figure in html
    images = list(built.rglob(figure))
    assert images and images[0].stat().st_size > 1000


def test_chain_is_one_layer_a_line(built):
    html = (built / "derivations" / "composition.html").read_text(encoding="utf-8")
    for k in range(1, 7):
        assert f"z_{{{k}}} =" in html


def test_api_reference_and_notebooks_are_rendered(built):
    assert list(built.rglob("flowproof.flow.html"))
    for name in ("walk-through-the-depths", "verify-a-formula", "numeric-flow"):
        assert (built / "notebooks" / f"{name}.html").is_file()
