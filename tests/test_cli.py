"""flowproof.cli: exit codes, progress lines, JSON, and one-line usage errors."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time

import pytest

import flowproof.verify as V
from flowproof import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKS_PER_DEPTH = 8
SUMMARY = re.compile(r"^(\d+) of (\d+) checks passed over (\d+) depths in [\d.]+s")


def check_lines(text):
    return [line for line in text.splitlines() if line.startswith("K=")]


def test_verify_default_runs_everything_and_passes(capsys):
    start = time.perf_counter()
    code = cli.main(["verify"])
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    assert code == 0
    assert elapsed < 30
    assert "Traceback" not in out + err
    lines = out.splitlines()
    # the chapter: depths 0..6 and one fractional depth = 8 depths, 8 checks each
    checks = check_lines(out)
    assert len(checks) == 8 * CHECKS_PER_DEPTH
    assert all(" ok " in line for line in checks)
    match = SUMMARY.match(lines[-1])
    assert match, lines[-1]
    assert match.groups() == ("64", "64", "8")
    assert "FAILED" not in out
    for k in range(7):
        assert sum(line.startswith(f"K={k} ") for line in checks) == CHECKS_PER_DEPTH


def test_progress_lines_are_printed_as_each_check_finishes(monkeypatch):
    """When depth 1's first check starts, all eight lines of depth 0 are already on stdout."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    seen = []
    real = V.check_chain_rule

    def spy(flow):
        seen.append(len(check_lines(stream.getvalue())))
        return real(flow)

    monkeypatch.setattr(V, "check_chain_rule", spy)
    code = cli.main(["verify", "--depth", "0,1", "--dps", "20"])
    assert code == 0
    assert seen == [0, CHECKS_PER_DEPTH]
    assert len(check_lines(stream.getvalue())) == 2 * CHECKS_PER_DEPTH


def test_json_on_stdout_progress_on_stderr(capsys):
    code = cli.main(["verify", "--depth", "0,1", "--dps", "20", "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    report = json.loads(out)  # stdout is exactly the JSON document
    assert report["passed"] is True
    assert report["dps"] == 20
    assert [d["depth"] for d in report["depths"]] == ["0", "1"]
    assert all(len(d["checks"]) == CHECKS_PER_DEPTH for d in report["depths"])
    assert len(check_lines(err)) == 2 * CHECKS_PER_DEPTH
    assert SUMMARY.match(err.splitlines()[-1])
    assert check_lines(out) == []


def test_user_flow(capsys):
    code = cli.main(["verify", "--phases", "0,0.5", "--amplitude", "0.25", "--frequency", "3", "--depth", "1,2"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert SUMMARY.match(out.splitlines()[-1]).groups() == ("16", "16", "2")


def test_fractional_user_depth(capsys):
    code = cli.main(["verify", "--phases", "0.1", "--amplitude", "1/3", "--frequency", "1", "--depth", "1/2",
                     "--dps", "20"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert len(check_lines(out)) == CHECKS_PER_DEPTH


BAD_USAGE = [
    [],
    ["frobnicate"],
    ["verify", "--bogus"],
    ["verify", "--amplitude", "0.6"],
    ["verify", "--amplitude", "0.5"],
    ["verify", "--amplitude", "abc"],
    ["verify", "--phases", "0.1,,0.2"],
    ["verify", "--phases", "0.1,"],
    ["verify", "--phases", "0.1,x"],
    ["verify", "--depth", "7"],
    ["verify", "--depth", "6.5"],
    ["verify", "--phases", "0,1", "--depth", "3"],
    ["verify", "--depth", "-1"],
    ["verify", "--depth", "nan"],
    ["verify", "--depth", "inf"],
    ["verify", "--depth", "0,"],
    ["verify", "--dps", "0"],
    ["verify", "--dps", "abc"],
    ["verify", "--dps", "2.5"],
    ["verify", "--frequency", "inf"],
    ["verify", "--frequency", "nan"],
]


@pytest.mark.parametrize("argv", BAD_USAGE, ids=lambda a: " ".join(a) or "<none>")
def test_bad_usage_is_one_line_exit_2(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in out + err
    assert err.startswith("flowproof: error:")
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert out == ""


def test_a_failing_check_gives_exit_1(monkeypatch, capsys):
    def failing(flow, *args, **kwargs):
        return V.Check("normalisation", False, "forced for the test", {}, "forced failure")

    monkeypatch.setattr(V, "check_normalisation", failing)
    code = cli.main(["verify", "--depth", "0", "--dps", "20"])
    out, err = capsys.readouterr()
    assert code == 1
    fails = [line for line in check_lines(out) if "FAIL" in line]
    assert len(fails) == 1 and "normalisation" in fails[0]
    assert "7 of 8 checks passed" in out.splitlines()[-1]
    assert "FAILED: K=0 normalisation" in out.splitlines()[-1]


def test_a_failing_check_gives_exit_1_with_json(monkeypatch, capsys):
    def failing(flow, *args, **kwargs):
        return V.Check("invertibility", False, "forced for the test", {}, "forced failure")

    monkeypatch.setattr(V, "check_invertibility", failing)
    code = cli.main(["verify", "--depth", "0", "--dps", "20", "--json"])
    out, _ = capsys.readouterr()
    assert code == 1
    report = json.loads(out)
    assert report["passed"] is False
    assert report["depths"][0]["passed"] is False


def test_module_entry_point_subprocess():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "flowproof", "verify", "--depth", "0,1", "--dps", "20"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert SUMMARY.match(proc.stdout.splitlines()[-1]).groups() == ("16", "16", "2")
