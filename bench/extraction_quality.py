"""Extraction quality and speed: editions against trafilatura, newspaper4k and readability-lxml.

Every tool reads the same pages of the shared corpus (``articles/`` for body text,
title, byline and date; ``dates/`` for publication dates; ``trafilatura-eval/`` for
boilerplate snippets a clean body keeps or drops); predictions go to a temporary
directory and are scored by the corpus's own ``score.py`` and ``score_snippets.py``.

``trafilatura-eval/`` is split in two halves by a hash of each page's file name: rules
and thresholds are chosen on the tuning half, figures are reported on the other.

    python -m bench.extraction_quality [--limit N] [--json OUT] [--tools editions,trafilatura]
    python -m bench.extraction_quality --snippets tuning   # the half for choosing thresholds
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import ipaddress
import json
import logging
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("EDITIONS_SHARED_DIR", ROOT.parent / "shared"))
CORPUS = SHARED / "corpus"

Prediction = dict[str, Any]
Tool = Callable[[str, str], Prediction]


class CorpusMissing(RuntimeError):
    """The shared corpus (and its score.py) is not where the benchmark looks."""


# --- the tools --------------------------------------------------------------------------


def _editions(html: str, url: str) -> Prediction:
    from worker.extract import ExtractionError, extract_article

    try:
        found = extract_article(html, url)
    except ExtractionError as exc:
        log.warning("editions could not extract %s: %s", url, exc)
        return {"text": ""}
    return {
        "text": found.text,
        "title": found.title,
        "byline": found.byline,
        "date": found.published.isoformat() if found.published else None,
    }


def _trafilatura(html: str, url: str) -> Prediction:
    import trafilatura

    return {"text": trafilatura.extract(html) or ""}


def _newspaper(html: str, url: str) -> Prediction:
    import newspaper

    # fetch_images=False: newspaper otherwise downloads images to pick the top one.
    article = newspaper.Article(url, fetch_images=False)
    article.download(input_html=html)
    article.parse()
    return {
        "text": article.text or "",
        "title": article.title or None,
        "byline": ", ".join(article.authors) or None,
        "date": article.publish_date.isoformat() if article.publish_date else None,
    }


def _readability(html: str, url: str) -> Prediction:
    import lxml.html
    import readability

    document = readability.Document(html, url=url)
    summary = lxml.html.fromstring(document.summary())
    blocks = (
        " ".join(e.text_content().split())
        for e in summary.iter("p", "h1", "h2", "h3", "h4", "li", "pre", "blockquote", "td")
    )
    text = "\n".join(b for b in blocks if b) or " ".join(summary.text_content().split())
    return {"text": text, "title": document.short_title() or None}


TOOLS: dict[str, Tool] = {
    "editions": _editions,
    "trafilatura": _trafilatura,
    "newspaper4k": _newspaper,
    "readability-lxml": _readability,
}


# --- corpus and scoring -------------------------------------------------------------------


def _pages(folder: Path, limit: int | None) -> list[tuple[str, str, str]]:
    """(name, html, url) for each page of a corpus folder."""
    pages = []
    for page in sorted(p for p in folder.iterdir() if (p / "source.html").is_file()):
        truth = json.loads((page / "ground_truth.json").read_text(encoding="utf-8"))
        url = truth.get("url") or f"https://example.org/{page.name}/"
        html = (page / "source.html").read_text(encoding="utf-8", errors="replace")
        pages.append((page.name, html, url))
    return pages[:limit] if limit else pages


def _predict(tool: Tool, pages: list[tuple[str, str, str]], out: Path) -> list[float]:
    out.mkdir(parents=True, exist_ok=True)
    seconds = []
    for name, html, url in pages:
        started = time.perf_counter()
        try:
            prediction = tool(html, url)
        except Exception as exc:  # a competitor crashing on a page scores it as empty
            log.warning("%s failed on %s: %s: %s", tool.__name__, name, type(exc).__name__, exc)
            prediction = {"text": ""}
        seconds.append(time.perf_counter() - started)
        (out / f"{name}.json").write_text(json.dumps(prediction), encoding="utf-8")
    return seconds


_ROW = re.compile(r"^(\S+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s")
_META = re.compile(r"^(title|byline|date)\s+\S+\s+n=(\d+)\s+exact\s+([\d.]+)")


def score(predictions: Path, truth: Path | None = None) -> dict[str, float]:
    """Run the corpus's score.py on a prediction directory and parse its figures."""
    command = [sys.executable, str(CORPUS / "score.py"), str(predictions)]
    if truth is not None:
        command += ["--gt", str(truth)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    figures: dict[str, float] = {}
    for line in result.stdout.splitlines():
        # One row per data set, then "ALL" when there are several: the last row wins.
        if row := _ROW.match(line):
            figures["f1"], figures["precision"], figures["recall"] = map(float, row.groups()[2:])
        elif meta := _META.match(line):
            figures[f"{meta.group(1)}_acc"] = float(meta.group(3))
    return figures


SNIPPETS = CORPUS / "trafilatura-eval"
HALVES = ("reported", "tuning")


def snippet_half(file_name: str) -> str:
    """Which half of trafilatura-eval a page is in: fixed by its name, never by its content."""
    return HALVES[hashlib.sha256(file_name.encode("utf-8")).digest()[0] % 2]


def snippet_pages(half: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The expectations ({url, file, with, without}) of one half of trafilatura-eval."""
    expectations = json.loads((SNIPPETS / "expectations.json").read_text(encoding="utf-8"))
    chosen = [e for e in expectations if snippet_half(e["file"]) == half]
    return chosen[:limit] if limit else chosen


_SNIPPET_ROW = re.compile(r"precision ([\d.]+)\s+recall ([\d.]+)\s+F1 ([\d.]+)")


def snippet_scores(
    tool: Tool, expectations: list[dict[str, Any]], scratch: Path
) -> tuple[dict[str, float], list[float]]:
    """Snippet precision/recall/F1 of ``tool`` on these pages (by score_snippets.py), and times."""
    scratch.mkdir(parents=True, exist_ok=True)
    seconds = []
    with (scratch / "pred.jsonl").open("w", encoding="utf-8") as out:
        for page in expectations:
            html = (SNIPPETS / "pages" / page["file"]).read_text(encoding="utf-8", errors="replace")
            started = time.perf_counter()
            try:
                text = tool(html, page["url"]).get("text") or ""
            except Exception as exc:  # a crash on a page scores it as empty
                log.warning("%s failed on %s: %s", tool.__name__, page["file"], exc)
                text = ""
            seconds.append(time.perf_counter() - started)
            out.write(json.dumps({"file": page["file"], "text": text}) + "\n")
    (scratch / "expectations.json").write_text(json.dumps(expectations), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(SNIPPETS / "score_snippets.py"), str(scratch / "pred.jsonl"),
         "--expectations", str(scratch / "expectations.json"),
         "--per-page", str(scratch / "per_page.csv")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    row = _SNIPPET_ROW.search(result.stdout)
    if not row:
        raise RuntimeError(f"score_snippets.py printed no scores: {result.stdout[-300:]}")
    precision, recall, f1 = map(float, row.groups())
    return {"snip_p": precision, "snip_r": recall, "snip_f1": f1}, seconds


class NetworkRefused(OSError):
    """A tool under test tried to reach the network; extraction must work offline."""


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """Refuse connections beyond loopback while the tools run (newspaper4k fetches images)."""
    original = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else ""
        if (
            sock.family in (socket.AF_INET, socket.AF_INET6)
            and not ipaddress.ip_address(host).is_loopback
        ):
            raise NetworkRefused(f"benchmark is offline: refused connection to {address}")
        return original(sock, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]


def _truth_root(folder: Path, pages: list[tuple[str, str, str]], scratch: Path) -> Path:
    """``folder`` itself, or a directory of links to just ``pages`` when they are a subset."""
    if len(pages) == sum(1 for p in folder.iterdir() if (p / "source.html").is_file()):
        return folder
    scratch.mkdir(parents=True)
    for name, _html, _url in pages:
        (scratch / name).mkdir()
        (scratch / name / "ground_truth.json").symlink_to(folder / name / "ground_truth.json")
    return scratch


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(
    limit: int | None = None, tools: list[str] | None = None, half: str = "reported"
) -> list[dict[str, Any]]:
    """Score each tool on the corpus; one dict of figures per tool (times in ms).

    ``median_ms`` is over every page the tool extracted (articles/, dates/ and the
    trafilatura-eval half), so tools are timed on the same pages in the same run.
    """
    if not (CORPUS / "score.py").is_file():
        raise CorpusMissing(f"no corpus with score.py at {CORPUS}")
    articles = _pages(CORPUS / "articles", limit)
    dated = _pages(CORPUS / "dates", limit)
    snippets = snippet_pages(half, limit) if (SNIPPETS / "expectations.json").is_file() else []
    results = []
    with tempfile.TemporaryDirectory(prefix="editions-bench-") as tmp:
        # score.py scores every page under its --gt root; a partial run gets a partial root.
        article_truth = _truth_root(CORPUS / "articles", articles, Path(tmp) / "truth" / "a")
        date_truth = _truth_root(CORPUS / "dates", dated, Path(tmp) / "truth" / "d")
        for name in tools or list(TOOLS):
            tool = TOOLS[name]
            log.info("running %s on %d + %d pages", name, len(articles), len(dated))
            figures: dict[str, Any] = {"tool": name, "pages": len(articles)}
            with _offline():
                seconds = _predict(tool, articles, Path(tmp) / name / "articles")
                seconds += _predict(tool, dated, Path(tmp) / name / "dates")
                if snippets:
                    snip, more = snippet_scores(tool, snippets, Path(tmp) / name / "snippets")
                    figures.update(snip, snippet_pages=len(snippets), snippet_half=half)
                    seconds += more
            figures.update(score(Path(tmp) / name / "articles", article_truth))
            dates = score(Path(tmp) / name / "dates", date_truth)
            figures["dates_set_acc"] = dates.get("date_acc")
            figures["median_ms"] = statistics.median(seconds) * 1000
            figures["p95_ms"] = _percentile(seconds, 0.95) * 1000
            results.append(figures)
    return results


# --- command line ---------------------------------------------------------------------------

_COLUMNS = [
    ("tool", "{:<17}"),
    ("f1", "{:>6.3f}"),
    ("precision", "{:>6.3f}"),
    ("recall", "{:>6.3f}"),
    ("snip_p", "{:>6.3f}"),
    ("snip_r", "{:>6.3f}"),
    ("snip_f1", "{:>6.3f}"),
    ("title_acc", "{:>6.3f}"),
    ("byline_acc", "{:>6.3f}"),
    ("date_acc", "{:>6.3f}"),
    ("dates_set_acc", "{:>6.3f}"),
    ("median_ms", "{:>7.1f}"),
    ("p95_ms", "{:>7.1f}"),
]
_HEADERS = [
    "tool",
    "F1",
    "P",
    "R",
    "snipP",
    "snipR",
    "snipF1",
    "title",
    "byline",
    "date",
    "dates/",
    "med ms",
    "p95 ms",
]


def format_table(results: list[dict[str, Any]]) -> str:
    """The figures as a fixed-width table ('-' where a tool gives no such field)."""
    widths = [17, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7]
    lines = [
        " ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(_HEADERS, widths, strict=True))
        )
    ]
    for row in results:
        cells = []
        for (key, spec), width in zip(_COLUMNS, widths, strict=True):
            value = row.get(key)
            cells.append(spec.format(value) if value is not None else "-".rjust(width))
        lines.append(" ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="only the first N pages of each set")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--tools", help=f"comma-separated subset of {', '.join(TOOLS)}")
    parser.add_argument(
        "--snippets", choices=HALVES, default="reported",
        help="which half of trafilatura-eval to score (tune only on 'tuning')",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # The competitors log every page they struggle with; keep the table readable.
    for noisy in ("trafilatura", "htmldate", "newspaper", "readability"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    tools = args.tools.split(",") if args.tools else None
    unknown = set(tools or []) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tool(s): {', '.join(sorted(unknown))}")
    results = run(args.limit, tools, args.snippets)
    print(
        "F1/P/R: articles/ (shingles); snip*: trafilatura-eval/ "
        f"{args.snippets} half (snippets); dates/: publication date accuracy"
    )
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
