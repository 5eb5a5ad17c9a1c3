"""Sphinx configuration. The derivation pages and their figures are generated at build time from the chapter's flow
by :func:`flowproof.docsgen.write_pages`, and the notebooks are copied in from ``notebooks/`` and executed by
myst-nb, so the docs always show what the code proves and computes now."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
# the notebook kernels myst-nb starts import this checkout's flowproof, installed or not
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)

import flowproof  # noqa: E402
from flowproof import docsgen  # noqa: E402

project = "flowproof"
author = "the flowproof developers"
release = version = flowproof.__version__
copyright = "2026, the flowproof developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]
html_theme = "furo"
html_title = f"flowproof {release}"
autosummary_generate = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
myst_enable_extensions = ["dollarmath", "amsmath"]
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 300
suppress_warnings = ["mystnb.unknown_mime_type"]


def _generate(app: object) -> None:
    docsgen.write_pages(flowproof.chapter_flow(), HERE / "derivations",
                        title="Derivations for the chapter's flow")
    target = HERE / "notebooks"
    target.mkdir(exist_ok=True)
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        shutil.copy2(notebook, target / notebook.name)


def setup(app: object) -> None:
    app.connect("builder-inited", _generate)  # type: ignore[attr-defined]
