"""The package imports lazily: the pytest plugin loads into every pytest session where flowproof is installed."""

from __future__ import annotations

import subprocess
import sys

import flowproof


def test_every_public_name_resolves():
    for name in flowproof.__all__:
        assert getattr(flowproof, name) is not None
    assert set(flowproof.__all__) <= set(dir(flowproof))


def test_importing_the_plugin_imports_no_heavy_module():
    code = ("import sys, flowproof.pytest_plugin; "
            "print(sorted(m for m in ('sympy', 'mpmath', 'numpy', 'scipy', 'flint') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error():
    try:
        flowproof.no_such_name  # noqa: B018
    except AttributeError as err:
        assert "no_such_name" in str(err)
    else:
        raise AssertionError("expected AttributeError")
