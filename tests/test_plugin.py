"""The pytest plugin: the mpmath_dps marker and the precision check, the oracle fixtures, the entry point, and
that a suite which does not use it pays nothing for it (small suites run with pytester)."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

# pytester's in-process runs drop the modules they import; numpy cannot be imported twice, so import it here
import flowproof.pytest_plugin  # noqa: F401
import flowproof.testing  # noqa: F401

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "flowproof" / "pytest_plugin.py"


@pytest.fixture
def run(pytester, pytestconfig):
    """pytester.runpytest with the plugin: by its entry point when installed, else by -p."""
    args = [] if pytestconfig.pluginmanager.has_plugin("flowproof") else ["-p", "flowproof.pytest_plugin"]
    return lambda *extra: pytester.runpytest("-p", "no:cacheprovider", *args, *extra)


SUITE = """
    import mpmath, pytest, sympy
    from flowproof.testing import assert_log_det_close

    @pytest.mark.mpmath_dps(50)
    def test_inside():
        assert mpmath.mp.dps == 50

    def test_after_inside():
        assert mpmath.mp.dps == 15

    @pytest.mark.mpmath_dps(50)
    def test_leaks_under_the_marker():
        mpmath.mp.dps = 30

    def test_after_the_leak():
        assert mpmath.mp.prec == 53

    @pytest.mark.mpmath_dps("fifty")
    def test_bad_marker():
        pass

    def test_unmarked_leak_is_left_alone():
        mpmath.mp.dps = 40

    def test_and_seen_by_the_next_test():
        assert mpmath.mp.dps == 40
        mpmath.mp.dps = 15

    def test_default_flow(flowproof_flow):
        assert len(flowproof_flow) == 6 and flowproof_flow[0].phase == sympy.Rational(3, 10)

    @pytest.mark.parametrize("flowproof_flow", [1, "2.5"], indirect=True)
    def test_depths(flowproof_flow):
        assert len(flowproof_flow) in (1, 3)

    def test_factory(oracle_flow):
        assert len(oracle_flow(3)) == 3
        mine = oracle_flow(phases=["0", "0.5"], amplitude="0.25")
        assert [la.amplitude for la in mine] == [sympy.Rational(1, 4)] * 2
        assert mine[1].phase == sympy.Rational(1, 2) and mine[1].frequency == 2

    @pytest.mark.mpmath_dps(60)
    def test_helpers_at_the_markers_precision(flowproof_flow):
        assert_log_det_close(lambda x: 0 * x, flowproof_flow, [0.5])

    def test_plain():
        pass
"""


def test_marker_fixtures_and_a_plain_test(pytester, run):
    pytester.makepyfile(SUITE)
    result = run("--strict-markers", "--setup-show")
    result.assert_outcomes(passed=10, failed=3)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "*left mpmath's global precision changed (@pytest.mark.mpmath_dps(50)): "
        "mp.prec 169 -> 103 (mp.dps 50 -> 30)*",
    ])
    assert "mpmath_dps takes one positive whole number of digits" in out
    assert "at 60 digits" in out
    plain = out[out.index("::test_plain"):].splitlines()[0:2]
    assert not any("SETUP" in line for line in plain)  # no fixture at all, so no autouse one
    assert "SETUP    F flowproof_flow" in out


def test_marker_is_registered(pytester, pytestconfig):
    args = [] if pytestconfig.pluginmanager.has_plugin("flowproof") else ["-p", "flowproof.pytest_plugin"]
    config = pytester.parseconfigure(*args)
    assert any(line.startswith("mpmath_dps(n):") for line in config.getini("markers"))


LEAK = """
    import mpmath

    def test_leaks():
        mpmath.mp.dps = 40

    def test_after():
        assert mpmath.mp.prec == 53
"""


@pytest.mark.parametrize("how", [("--flowproof-check-precision",), ("-o", "flowproof_check_precision=true")])
def test_option_and_ini_check_every_test(pytester, run, how):
    pytester.makepyfile(LEAK)
    result = run(*how)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*(--flowproof-check-precision): mp.prec 53 -> 136*"])


def test_the_plugin_module_imports_only_pytest_at_import_time():
    tree = ast.parse(PLUGIN.read_text())
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    top |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    assert top <= {"__future__", "collections", "typing", "pytest"}
    code = ("import sys, pytest, flowproof; before = set(sys.modules); import flowproof.pytest_plugin; "
            "print(sorted(set(sys.modules) - before))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "['flowproof.pytest_plugin']"


def test_the_entry_point_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"flowproof": "flowproof.pytest_plugin"}
    installed = [ep for ep in metadata.entry_points(group="pytest11") if ep.name == "flowproof"]
    assert all(ep.value == "flowproof.pytest_plugin" for ep in installed)
