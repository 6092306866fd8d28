"""The offline demo runs end to end and shows what it promises."""

from __future__ import annotations

from editions.demo.run import run_demo


def test_demo_archives_edits_and_diffs(tmp_path):
    lines: list[str] = []
    figures = run_demo(
        database_url=f"sqlite:///{tmp_path / 'demo.db'}",
        echo=lambda text="", **_: lines.append(str(text)),
        color=False,
    )
    output = "\n".join(lines)
    assert figures["articles_after_first"] == 12
    # The headline change and the correction make versions; whitespace and
    # boilerplate edits do not.
    assert figures["second"].get("changed") == 2
    assert figures["versions"] == 14
    assert "Correction" in output
    assert "[-" in output and "{+" in output
