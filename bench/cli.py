"""``python -m bench [--quick] [--only NAME] [--json OUT] [--articles N]``: every figure, one run.

Prints a table (figure, editions, peer, ratio, target, met?) and writes the
figures as JSON. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.result import Row, format_table, ratio, unavailable

log = logging.getLogger(__name__)

FIGURES = (
    "server",
    "ingest",
    "distributed",
    "peers",
    "revisit",
    "quality",
    "search",
    "storage",
    "memory",
    "web",
    "edits",
)
SITE_FIGURES = {"server", "ingest", "distributed", "peers", "revisit"}
# The peers some figures compare editions with: the [bench] extra (module -> package).
EXTRA_INSTALL = "pip install -e '.[bench]'"
PEER_PACKAGES = {"newspaper": "newspaper4k", "readability": "readability-lxml"}
PEERS_OF = {"peers": ("newspaper",), "quality": ("newspaper", "readability")}


@dataclass
class Sizes:
    """How big each figure's run is."""

    articles: int
    search: tuple[int, int]
    storage: int
    memory: int
    quality_limit: int | None
    search_repeats: int
    cache: bool
    edits: int = 100
    churn: int = 30
    edits_replay: int = 3000

    @classmethod
    def for_run(cls, quick: bool, articles: int | None) -> Sizes:
        if quick:
            return cls(
                articles or 30, (1_000, 5_000), 20, 500, 4, 2, cache=False,
                edits=12, churn=15, edits_replay=300,
            )
        return cls(articles or 2_000, (10_000, 100_000), 200, 10_000, None, 3, cache=True)


@dataclass
class Run:
    sizes: Sizes
    only: set[str]
    workdir: Path
    rows: list[Row] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def wants(self, name: str) -> bool:
        return name in self.only

    def attempt(self, name: str, figure: str, unit: str, body: Callable[[], None]) -> None:
        """Run one figure; a failure becomes an n/a row with the reason, never a crash."""
        started = time.perf_counter()
        try:
            body()
        except Exception as exc:
            log.exception("figure %s failed", name)
            self.rows.append(unavailable(figure, unit, f"{type(exc).__name__}: {exc}"))
        log.info("figure %s took %.1fs", name, time.perf_counter() - started)


# --- figures over the benchmark site (server, 1, 2, 3) ---------------------------------------


def site_figures(run: Run) -> None:
    from bench import ingest
    from bench.site import SiteProcess, fetch_all, measure_server_rate
    from editions.api import Editions

    n = run.sizes.articles
    with SiteProcess(n) as site:
        urls = site.urls
        pages = list(fetch_all(urls))
        plain = sum(len(body) for _, body in pages) / max(len(pages), 1)
        run.extras["site"] = {"articles": n, "mean_page_bytes": plain}
        if run.wants("server"):
            rate, requests = measure_server_rate(urls)
            run.rows.append(
                Row("site: server alone (keep-alive client)", rate, "req/s",
                    details={"requests": requests, "mean_page_bytes": plain})
            )  # fmt: skip
        bound = ingest.extraction_bound(pages)
        del pages
        embedded: ingest.Measured | None = None
        editions = Editions(
            f"sqlite:///{run.workdir / 'ingest.db'}", settings=ingest.bench_settings(n)
        )
        try:

            def first() -> None:
                nonlocal embedded
                embedded = ingest.first_ingest(
                    editions, ingest.bench_sources(site.feed_url, site.sitemap_url)
                )
                run.rows.append(
                    Row("1 first ingest, embedded (SQLite)", embedded.rate, "art/s",
                        peer="extraction-only bound", peer_value=bound.rate,
                        ratio=ratio(embedded.rate, bound.rate), target=">= 0.8x bound",
                        met=ratio(embedded.rate, bound.rate) >= 0.8,  # type: ignore[operator]
                        details={"ingest": embedded.details, "bound": bound.details,
                                 "articles": embedded.count, "seconds": embedded.seconds})
                )  # fmt: skip

            run.attempt("ingest", "1 first ingest, embedded (SQLite)", "art/s", first)
            if embedded is not None and run.wants("revisit"):
                run.attempt("revisit", "3 unchanged revisit", "art/s",
                            lambda: _revisit(run, editions, embedded))  # fmt: skip
        finally:
            editions.close()
        base = embedded.rate if embedded else None
        if run.wants("distributed"):
            run.attempt("distributed", "1 first ingest, distributed (2 Celery workers)",
                        "art/s", lambda: _distributed(run, site, base))  # fmt: skip
        if run.wants("peers"):
            run.attempt("peers", "2 vs newspaper4k", "art/s",
                        lambda: _peers(run, urls, base))  # fmt: skip


def _revisit(run: Run, editions: Any, embedded: Any) -> None:
    from bench import ingest

    measured = ingest.unchanged_revisit(editions)
    r = ratio(measured.rate, embedded.rate)
    run.rows.append(
        Row("3 unchanged revisit", measured.rate, "art/s", peer="first ingest",
            peer_value=embedded.rate, ratio=r, target=">= 10x first ingest",
            met=r is not None and r >= 10, details=measured.details)
    )  # fmt: skip


def _distributed(run: Run, site: Any, embedded: float | None) -> None:
    from bench import ingest

    figure = "1 first ingest, distributed (2 Celery workers)"
    try:
        measured = ingest.distributed_ingest(site.feed_url, site.sitemap_url, run.sizes.articles)
    except ingest.DistributedUnavailable as exc:
        run.rows.append(unavailable(figure, "art/s", str(exc), target=">= 1.6x embedded"))
        return
    r = ratio(measured.rate, embedded)
    run.rows.append(
        Row(figure, measured.rate, "art/s", peer="embedded", peer_value=embedded, ratio=r,
            target=">= 1.6x embedded", met=r is not None and r >= 1.6,
            details=measured.details | {"articles": measured.count, "seconds": measured.seconds})
    )  # fmt: skip


def _peers(run: Run, urls: list[str], embedded: float | None) -> None:
    from bench import ingest

    paper = ingest.newspaper_loop(urls)
    r = ratio(embedded, paper.rate)
    run.rows.append(
        Row("2 vs newspaper4k (download+parse)", embedded, "art/s", peer="newspaper4k",
            peer_value=paper.rate, ratio=r, target=">= 2x newspaper4k",
            met=r is not None and r >= 2, details={"newspaper4k": paper.details})
    )  # fmt: skip
    traf = ingest.trafilatura_loop(urls)
    run.rows.append(
        Row("2 vs trafilatura (fetch_url+extract)", embedded, "art/s", peer="trafilatura",
            peer_value=traf.rate, ratio=ratio(embedded, traf.rate),
            details={"trafilatura": traf.details})
    )  # fmt: skip


# --- figure 4: extraction quality and speed ------------------------------------------------


def quality_figure(run: Run) -> None:
    from bench import extraction_quality

    for noisy in ("trafilatura", "htmldate", "newspaper", "readability"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    from bench.ingest import offline_public_suffixes

    offline_public_suffixes()
    results = extraction_quality.run(limit=run.sizes.quality_limit)
    run.extras["extraction"] = results
    run.extras["extraction_table"] = extraction_quality.format_table(results)
    by_tool = {r["tool"]: r for r in results}
    ours, bare = by_tool["editions"], by_tool["trafilatura"]
    f1 = ratio(ours.get("f1"), bare.get("f1"))
    run.rows.append(
        Row("4 extraction F1 (articles/)", ours.get("f1"), "", peer="trafilatura",
            peer_value=bare.get("f1"), ratio=f1, target=">= trafilatura",
            met=f1 is not None and f1 >= 1.0)
    )  # fmt: skip
    for key, label, target in (
        ("snip_p", "precision", 0.95),
        ("snip_r", "recall", 0.94),
        ("snip_f1", "F1", 0.945),
    ):
        value, peer = ours.get(key), bare.get(key)
        run.rows.append(
            Row(f"4 snippet {label} (trafilatura-eval/, reported half)", value, "",
                peer="trafilatura", peer_value=peer, ratio=ratio(value, peer),
                target=f">= {target}", met=value is not None and value >= target)
        )  # fmt: skip
    for key, label in (("title_acc", "title"), ("date_acc", "date (articles/)"),
                       ("dates_set_acc", "date (dates/)")):  # fmt: skip
        paper = by_tool.get("newspaper4k", {}).get(key)
        value = ours.get(key)
        run.rows.append(
            Row(f"4 {label} accuracy", value, "", peer="newspaper4k", peer_value=paper,
                ratio=ratio(value, paper), target=">= 0.9",
                met=value is not None and value >= 0.9)
        )  # fmt: skip
    speed = ratio(ours.get("median_ms"), bare.get("median_ms"))
    run.rows.append(
        Row("4 extraction median time", ours.get("median_ms"), "ms", peer="trafilatura",
            peer_value=bare.get("median_ms"), ratio=speed, target="<= 1.2x trafilatura",
            met=speed is not None and speed <= 1.2, details={"p95_ms": ours.get("p95_ms"),
            "trafilatura_p95_ms": bare.get("p95_ms")})
    )  # fmt: skip


# --- figure 5: search ----------------------------------------------------------------------


def search_figure(run: Run) -> None:
    from bench import search

    small, large = run.sizes.search
    growth_target = f"p95 grows < {large // small / 2:g}x (sublinear)"
    for dialect, limit in (("SQLite FTS5", 50.0), ("Postgres", 100.0)):
        figures: dict[int, dict[str, Any]] = {}

        def both(dialect: str = dialect, figures: dict[int, dict[str, Any]] = figures) -> None:
            for size in (small, large):
                if dialect == "Postgres":
                    url, throwaway = search.postgres_archive(size, cache=run.sizes.cache)
                    try:
                        figures[size] = search.measure(url, run.sizes.search_repeats)
                    finally:
                        if throwaway:
                            search.drop_postgres(url)
                else:
                    url = search.sqlite_archive(size, cache=run.sizes.cache, workdir=run.workdir)
                    figures[size] = search.measure(url, run.sizes.search_repeats)

        run.attempt("search", f"5 search {dialect}", "ms", both)
        if len(figures) < 2:
            continue
        low, high = figures[small], figures[large]
        growth = ratio(high["p95_ms"], low["p95_ms"])
        run.rows.append(
            Row(f"5 search p50, {dialect}, {large:,} articles", high["p50_ms"], "ms",
                peer=f"{small:,} articles", peer_value=low["p50_ms"],
                ratio=ratio(high["p50_ms"], low["p50_ms"]), details=high)
        )  # fmt: skip
        run.rows.append(
            Row(f"5 search p95, {dialect}, {large:,} articles", high["p95_ms"], "ms",
                peer=f"{small:,} articles", peer_value=low["p95_ms"], ratio=growth,
                target=f"<= {limit:g} ms; {growth_target}",
                met=high["p95_ms"] <= limit and growth is not None
                and growth < (large / small) / 2, details={"small": low})
        )  # fmt: skip


# --- figures 6 and 7 ------------------------------------------------------------------------


def storage_figure(run: Run) -> None:
    from bench import storage

    found = storage.measure(run.sizes.storage, run.workdir)
    plain = found["plain_page_bytes"]
    per_article = found["bytes_per_article"]
    per_version = found["bytes_per_extra_version"]
    kb = {"peer_unit": "KB"}
    run.rows.append(
        Row("6 storage per article (db + captures)", per_article / 1024, "KB",
            peer="plain page", peer_value=plain / 1024, ratio=ratio(per_article, plain),
            details=found | kb)
    )  # fmt: skip
    r = ratio(per_version, plain)
    run.rows.append(
        Row("6 storage per extra version (small edit)", per_version / 1024, "KB",
            peer="plain page", peer_value=plain / 1024, ratio=r, target="<= 0.2x page",
            met=r is not None and r <= 0.2, details=kb)
    )  # fmt: skip


def web_figure(run: Run) -> None:
    from bench import web

    # Quick runs (CI) only keep the code alive: the smaller archive, fewer repeats.
    quick = not run.sizes.cache
    size = run.sizes.search[0] if quick else run.sizes.search[1]
    found = web.measure(
        size, cache=run.sizes.cache, workdir=run.workdir, repeats=2 if quick else 5
    )
    run.rows.append(
        Row(f"8 web page p95, SQLite, {size:,} articles", found["p95_ms"], "ms",
            target="<= 100 ms", met=found["p95_ms"] <= 100.0, details=found)
    )  # fmt: skip


def memory_figure(run: Run) -> None:
    from bench import memory

    found = memory.measure(run.sizes.memory, run.workdir)
    pages = run.sizes.memory
    run.rows.append(
        Row(f"7 worker peak RSS over {pages:,} pages", found["peak_mb"], "MB",
            peer="start", peer_value=found["start_mb"],
            ratio=ratio(found["peak_mb"], found["start_mb"]),
            target="<= 300 MB and flat",
            met=found["peak_mb"] <= 300 and found["flat"],
            note="" if found["flat"] else f"grows {found['growth_mb']:.0f} MB", details=found)
    )  # fmt: skip


# --- figure 9: edit tracking ----------------------------------------------------------------


def edits_figure(run: Run) -> None:
    from bench import edits

    table, details = edits.rows(
        run.sizes.edits, run.workdir, churn_articles=run.sizes.churn,
        large_log=run.sizes.edits_replay,
    )  # fmt: skip
    run.rows.extend(table)
    run.extras["edits"] = details


# --- the command -----------------------------------------------------------------------------


def missing_peers(figures: list[str] | tuple[str, ...]) -> dict[str, str]:
    """The peer packages the selected figures need but cannot import: package -> why.

    Checked before anything runs: without it each figure fails deep inside with a
    traceback, its row becomes n/a and the run still exits 0, which reads as success.
    """
    missing: dict[str, str] = {}
    for module in sorted({m for figure in figures for m in PEERS_OF.get(figure, ())}):
        try:
            importlib.import_module(module)
        except ImportError as exc:  # not installed, or installed but broken
            missing[PEER_PACKAGES[module]] = str(exc)
    return missing


def machine() -> dict[str, Any]:
    """What the figures ran on."""
    memory = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            kb = int(info.readline().split()[1])
            memory = f"{kb / 2**20:.1f} GiB"
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def run_benchmarks(
    *, quick: bool = False, only: list[str] | None = None, articles: int | None = None
) -> dict[str, Any]:
    """Run the selected figures; the JSON-ready result (rows, machine, extras)."""
    selected = set(only or FIGURES)
    unknown = selected - set(FIGURES)
    if unknown:
        raise ValueError(f"unknown figure(s) {', '.join(sorted(unknown))}; pick from {FIGURES}")
    sizes = Sizes.for_run(quick, articles)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="editions-bench-") as tmp:
        run = Run(sizes, selected, Path(tmp))
        if selected & SITE_FIGURES:
            run.attempt("site", "site figures", "", lambda: site_figures(run))
        for name, figure, unit, body in (
            ("quality", "4 extraction quality", "", quality_figure),
            ("search", "5 search", "ms", search_figure),
            ("storage", "6 storage", "KB", storage_figure),
            ("memory", "7 worker memory", "MB", memory_figure),
            ("web", "8 web pages", "ms", web_figure),
            ("edits", "9 edit tracking", "", edits_figure),
        ):
            if name in selected:
                run.attempt(name, figure, unit, lambda body=body: body(run))  # type: ignore[misc]
    return {
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "quick": quick,
        "sizes": sizes.__dict__,
        "machine": machine(),
        "seconds": time.perf_counter() - started,
        "rows": [row.as_dict() for row in run.rows],
        "table": format_table(run.rows),
        **run.extras,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, well under a minute")
    parser.add_argument("--only", action="append", choices=FIGURES, metavar="NAME",
                        help=f"run only this figure (repeatable): {', '.join(FIGURES)}")  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures here")
    parser.add_argument("--articles", type=int, metavar="N", help="pages on the site")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    args = parser.parse_args(argv)
    if args.articles is not None and args.articles < 1:
        parser.error("--articles must be at least 1")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("trafilatura", "htmldate", "newspaper", "readability", "worker", "storage"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    missing = missing_peers(args.only or FIGURES)
    if missing:
        needing = [
            figure
            for figure in args.only or FIGURES
            if any(PEER_PACKAGES[m] in missing for m in PEERS_OF.get(figure, ()))
        ]
        lines = [
            f"python -m bench: the {', '.join(needing)} figure(s) compare editions with "
            f"peers that are not installed: {', '.join(missing)}.",
            f"Install the benchmark extra: {EXTRA_INSTALL}",
            "(or run only figures without peers, e.g. --only search --only storage)",
        ]
        lines += [f"  {package}: {why}" for package, why in missing.items()]
        sys.stderr.write("\n".join(lines) + "\n")
        return 2
    result = run_benchmarks(quick=args.quick, only=args.only, articles=args.articles)
    out = sys.stdout
    out.write(result["table"] + "\n")
    if "extraction_table" in result:
        out.write("\nfigure 4 in full:\n" + result["extraction_table"] + "\n")
    out.write(f"\n{result['seconds']:.0f}s on {result['machine']}\n")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return 0
