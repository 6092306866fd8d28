"""Smoke test of the benchmark suite: ``python -m bench --quick`` produces every figure.

It checks that figures were produced, never their values (benchmarks are not
timed assertions). The distributed figure may be "n/a (reason)" where Celery
cannot run, but it must be in the table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.result import Row, format_table

ROOT = Path(__file__).resolve().parent.parent

EXPECTED = {
    "site: server alone": False,
    "1 first ingest, embedded": False,
    "1 first ingest, distributed": True,  # may be n/a, with its reason
    "2 vs newspaper4k": False,
    "2 vs trafilatura": False,
    "3 unchanged revisit": False,
    "4 extraction F1": False,
    "4 title accuracy": False,
    "4 extraction median time": False,
    "5 search p95, SQLite FTS5": False,
    "5 search p95, Postgres": False,
    "6 storage per extra version": False,
    "7 worker peak RSS": False,
    "8 web page p95": False,
    "9 requests per article": False,
    "9 first-24h edits kept": False,
    "9 latency, edits in first 4 h, mean": False,
    "9 false versions, boilerplate-churn site": False,
    "9 real edits caught": False,
}


def _bench(
    *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow  # minutes: CI runs it with the slow set; its table goes to the log
@pytest.mark.timeout(900)
def test_quick_run_produces_every_figure(
    tmp_path: Path,
    corpus: Path,
    postgres_server_url: str,
    redis_url: str,
    record_property: Callable[[str, object], None],
) -> None:
    # The Postgres and Redis fixtures skip this (with a message) where those servers
    # are absent, and fail it under CI: the Postgres figures need a real server.
    out = tmp_path / "bench.json"
    # The bench flushes its Redis database: give it the test's private one.
    result = _bench("--quick", "--json", str(out), env={"EDITIONS_BENCH_REDIS_URL": redis_url})
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    rows = {row["figure"]: row for row in data["rows"]}
    for prefix, may_be_missing in EXPECTED.items():
        matching = [row for name, row in rows.items() if name.startswith(prefix)]
        assert matching, f"figure {prefix!r} missing from {sorted(rows)}"
        row = matching[0]
        if may_be_missing and row["value"] is None:
            assert row["note"], f"{prefix}: n/a without a reason"
        else:
            assert row["value"] is not None, f"{prefix}: not measured ({row['note']})"
    assert all(row["value"] is not None or row["note"] for row in data["rows"])
    assert data["machine"]["nproc"] >= 1
    assert "figure" in result.stdout and "met?" in result.stdout
    for row in data["rows"]:  # the quick figures, in the run's "figures" section
        value = "n/a" if row["value"] is None else f"{row['value']:g} {row.get('unit') or ''}"
        record_property(f"bench --quick: {row['figure']}", value.strip())


def test_unknown_figure_is_refused_with_the_choices() -> None:
    result = _bench("--only", "speed", timeout=60)
    assert result.returncode == 2
    assert "invalid choice: 'speed'" in result.stderr
    assert "memory" in result.stderr


def test_articles_must_be_positive() -> None:
    result = _bench("--articles", "0", timeout=60)
    assert result.returncode == 2
    assert "--articles must be at least 1" in result.stderr


def test_unmeasured_figure_prints_its_reason() -> None:
    row = Row("1 first ingest, distributed", None, "art/s", note="no broker")
    table = format_table([row])
    assert "n/a (no broker)" in table
    assert table.splitlines()[0].split()[:3] == ["figure", "editions", "peer"]


def _bench_without(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m bench ARGS`` in a process where ``module`` cannot be imported."""
    code = (
        f"import sys; sys.modules[{module!r}] = None; sys.argv[0] = 'bench'; "
        f"from bench.cli import main; sys.exit(main({list(args)!r}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(("module", "package"), [("newspaper", "newspaper4k"), ("readability", "readability-lxml")])  # fmt: skip
def test_missing_bench_extra_is_named_and_fails(module: str, package: str) -> None:
    # issue 12 item 10: no tracebacks and n/a peers with exit 0; say what to install.
    result = _bench_without(module, "--quick")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "pip install -e '.[bench]'" in result.stderr and package in result.stderr
    assert "Traceback" not in result.stderr and "ModuleNotFoundError" not in result.stderr
    assert result.stdout == ""  # refused before measuring anything


def test_figures_without_peers_need_no_extra() -> None:
    # --only storage compares editions with nothing: a missing extra must not stop it.
    result = _bench_without("newspaper", "--quick", "--only", "storage")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "6 storage per extra version" in result.stdout
