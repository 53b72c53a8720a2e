"""The Python snippets of docs/user-guide.md run as documented (paths swapped for test data)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "user-guide.md"
sys.path.insert(0, str(ROOT / "tests" / "prepare"))
sys.path.insert(0, str(ROOT / "tests" / "report"))

from export_fixtures import write_full_export  # noqa: E402
from prepare_helpers import config, write_world  # noqa: E402


def snippet(name: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    match = re.search(rf"<!-- snippet: {name} -->\n```python\n(.*?)\n```", text, re.S)
    assert match, f"docs/user-guide.md has no snippet {name!r}"
    return match.group(1)


def swap(code: str, old: str, new: str) -> str:
    assert old in code, f"snippet no longer contains {old!r}"
    return code.replace(old, new)


def test_check_mapping_snippet(tmp_path, monkeypatch, capsys):
    root = tmp_path / "data"
    write_world(root, "parquet")
    cfg = config()
    cfg["data"].update(root=str(root), formats=["parquet"])
    code = swap(
        snippet("check-mapping"),
        'load_config("config/config.yaml", "config/cbs_ra.yaml")',
        "TEST_CONFIG",
    )
    monkeypatch.chdir(ROOT)
    exec(compile(code, "user-guide:check-mapping", "exec"), {"TEST_CONFIG": cfg})
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("swi_basis: ") and line.endswith(" ok") for line in lines)
    # The crafted world has no COA file: reported, not raised.
    assert any(line.startswith("swi_coa: NO FILE") for line in lines)


def test_check_mapping_snippet_reports_a_wrong_column(tmp_path, monkeypatch, capsys):
    root = tmp_path / "data"
    write_world(root, "parquet")
    cfg = config()
    cfg["data"].update(root=str(root), formats=["parquet"])
    cfg["prepare"]["catalogue_overrides"] = {
        "tables": {"swi_municipality": {"columns": {"pip_date": "DATUMPIPVASTGESTELD"}}}
    }
    code = swap(
        snippet("check-mapping"),
        'load_config("config/config.yaml", "config/cbs_ra.yaml")',
        "TEST_CONFIG",
    )
    monkeypatch.chdir(ROOT)
    exec(compile(code, "user-guide:check-mapping", "exec"), {"TEST_CONFIG": cfg})
    out = capsys.readouterr().out
    assert "MISSING COLUMNS ['DATUMPIPVASTGESTELD']" in out


def test_render_from_export_snippet(tmp_path, monkeypatch):
    export = write_full_export(tmp_path / "approved" / "export")
    out = tmp_path / "approved" / "reports"
    code = snippet("render-from-export")
    code = swap(code, 'Path("approved/export")', f"Path({str(export)!r})")
    code = swap(code, 'Path("approved/reports")', f"Path({str(out)!r})")
    # Keep the test light: HTML only, the main report and one city report.
    code = swap(
        code,
        'documents += [("city", city) for city in settings["cities"]]',
        'documents = [("main", ""), ("city", "rotterdam")]\nsettings["formats"] = ["html"]',
    )
    monkeypatch.chdir(ROOT)
    exec(compile(code, "user-guide:render-from-export", "exec"), {})
    for name in ("main", "city_rotterdam"):
        html = out / f"{name}.html"
        assert html.is_file() and html.stat().st_size > 10_000, name


def test_audit_export_snippet(tmp_path, monkeypatch, capsys):
    """The audit snippet on an export with one planted leak: Table 1's persons per city and
    group minus composition's published quarters (Amsterdam's and Utrecht's add up: the
    reading holds)."""
    export = tmp_path / "export"
    export.mkdir()
    (export / "composition.csv").write_text(
        "city,cohort,group,n,suppressed\n"
        "rotterdam,2022Q1,overig,40,False\n"
        "rotterdam,2022Q2,overig,,True\n"
        "amsterdam,2022Q1,overig,14,False\n"
        "amsterdam,2022Q2,overig,16,False\n"
        "utrecht,2022Q1,overig,11,False\n"
        "utrecht,2022Q2,overig,12,False\n",
        encoding="utf-8",
    )
    (export / "descriptives.csv").write_text(
        "city,variable,level,n,suppressed\nrotterdam,group,overig,47,False\n"
        "amsterdam,group,overig,30,False\nutrecht,group,overig,23,False\n",
        encoding="utf-8",
    )
    (export / "sample_flow.csv").write_text("step,city,persons,suppressed\n", encoding="utf-8")
    code = swap(
        snippet("audit-export"), 'audit_export("results/export"', f"audit_export({str(export)!r}"
    )
    monkeypatch.chdir(ROOT)
    exec(compile(code, "user-guide:audit-export", "exec"), {})
    shown = capsys.readouterr().out
    assert "1 finding(s)" in shown and "(possible): composition.n[city=rotterdam" in shown
    assert "= 7, below 10: descriptives.n[city=rotterdam, group=overig] (47)" in shown


@pytest.mark.parametrize("page", ["user-guide.md", "methods.md", "extending.md", "README.md"])
def test_docs_links_resolve(page):
    path = ROOT / "docs" / page
    if not path.exists():
        pytest.skip(f"{page} not written")
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (path.parent / target).exists(), f"{page}: broken link {target}"


def test_overlay_snippet_replaces_and_drops(tmp_path):
    """The replace/drop example of section 2.7 does what the text says."""
    import yaml as yaml_module

    from inburgering.cbs.catalogue import Catalogue
    from inburgering.config import check_all, load_config

    text = GUIDE.read_text(encoding="utf-8")
    match = re.search(r"<!-- snippet: overlay -->\n```yaml\n(.*?)\n```", text, re.S)
    assert match, "docs/user-guide.md has no overlay snippet"
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(match.group(1), encoding="utf-8")
    assert "replace" in yaml_module.safe_load(match.group(1))
    merged = load_config(ROOT / "config" / "config.yaml", overlay)
    check_all(merged, base=ROOT)
    assert merged["matching"]["route"]["contrasts"] == {"z_vs_b1": "z"}
    assert "schooling" not in merged["matching"]["heterogeneity"]["subgroups"]
    catalogue = Catalogue.from_config(merged, base=ROOT)
    assert catalogue.codes["route"] == {"b1": "B1", "onderwijs": "OND", "z": "Z"}
    assert "secm_labels" not in catalogue.codes
