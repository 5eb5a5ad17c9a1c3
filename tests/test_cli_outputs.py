"""flowproof plot / docs / verify --claims as a user runs them: files appear, bad paths fail in one line."""

from __future__ import annotations

import json

import pytest

from flowproof.cli import main

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


def test_plot_writes_the_chapter_figures(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "figs")]) == 0
    names = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert names == ["chapter.png", "histogram.png", "log_density_terms.png", "sample_paths.png"]
    for name in names:
        assert (tmp_path / "figs" / name).read_bytes()[:8] == PNG
    assert capsys.readouterr().out.count("wrote ") == 4


def test_plot_into_a_file_is_bad_usage_and_writes_nothing(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("keep me")
    assert main(["plot", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flowproof: error:") and "\n" not in err and "Traceback" not in err
    assert target.read_text() == "keep me"


def test_docs_for_a_users_own_flow(tmp_path):
    out = tmp_path / "pages"
    assert main(["docs", str(out), "--phases", "0,0.5", "--amplitude", "0.25", "--depth", "0,1,1.5,2"]) == 0
    for page in ("index", "composition", "chain-rule", "log-density", "inverse", "fractional-depth", "walk"):
        assert (out / f"{page}.rst").is_file()
    composition = (out / "composition.rst").read_text()
    assert "z_{1} = z_{0} + \\frac{\\sin{\\left(2 z_{0} \\right)}}{4}" in composition  # a = 1/4, phase 0: by hand
    assert (out / "figures" / "chapter.png").read_bytes()[:8] == PNG
    fractional = (out / "fractional-depth.rst").read_text()
    assert "K = 1.5" in fractional


def test_docs_with_a_bad_depth_writes_nothing(tmp_path, capsys):
    out = tmp_path / "pages"
    assert main(["docs", str(out), "--depth", "9"]) == 2
    assert not out.exists()
    assert capsys.readouterr().err.startswith("flowproof: error:")


def test_verify_claims_json_reports_the_chapters_words(capsys):
    assert main(["verify", "--depth", "0,1", "--dps", "20", "--claims", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    words = {claim["words"]: claim["holds"] for claim in report["claims"]}
    assert any("bimodal" in w and held for w, held in words.items())
    assert any("half a dozen" in w for w in words)
