"""Figure 7: a worker's resident memory over a long run (10,000 pages; --quick: 500).

The worker is a child process (``python -m bench.memory ...``) running the
embedded pipeline over the benchmark site; this process serves the site (pages
rendered on demand, so the server stays small) and samples the child's RSS from
``/proc`` every 100 ms.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


class MemoryWorkerFailed(RuntimeError):
    """The worker subprocess exited with an error."""


def rss_bytes(pid: int) -> int | None:
    """Resident set size of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def measure(articles: int, workdir: Path, interval: float = 0.1) -> dict[str, Any]:
    """Run the worker over ``articles`` new pages and report start/peak/end RSS and growth."""
    from bench.ingest import bench_env
    from bench.site import populate
    from editions.demo.site import LocalSite

    with LocalSite() as site:
        populate(site, articles, lazy=True)
        command = [
            sys.executable, "-m", "bench.memory",
            "--feed", site.url("/feed.xml"), "--sitemap", site.url("/sitemap.xml"),
            "--database", f"sqlite:///{workdir / 'memory.db'}", "--articles", str(articles),
        ]  # fmt: skip
        child = subprocess.Popen(
            command, cwd=ROOT, env=bench_env(articles), stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        ready = child.stdout.readline()
        if ready.strip() != "ready":
            child.wait()
            raise MemoryWorkerFailed(f"worker did not start (exit {child.returncode})")
        started = time.monotonic()
        samples: list[tuple[float, int]] = []
        while child.poll() is None:
            rss = rss_bytes(child.pid)
            if rss is not None:
                samples.append((time.monotonic() - started, rss))
            time.sleep(interval)
        output = child.stdout.read()
    if child.returncode != 0 or not samples:
        raise MemoryWorkerFailed(f"worker exited with {child.returncode}")
    report = json.loads(output.strip().splitlines()[-1])
    return summarize(samples) | {"worker": report}


def summarize(samples: list[tuple[float, int]]) -> dict[str, Any]:
    """Start, peak and end RSS (MB); growth compares the last tenth with the second tenth."""
    mb = [rss / 2**20 for _, rss in samples]
    tenth = max(1, len(mb) // 10)
    early = max(mb[tenth : 2 * tenth] or mb[:1])
    late = max(mb[-tenth:])
    growth = late - early
    return {
        "samples": len(mb),
        "start_mb": mb[0],
        "peak_mb": max(mb),
        "end_mb": mb[-1],
        "early_mb": early,
        "late_mb": late,
        "growth_mb": growth,
        # Flat: the last tenth of the run needs at most 10% (or 10 MB) more than the second.
        "flat": growth <= max(10.0, 0.1 * early),
    }


def _worker(argv: list[str] | None = None) -> None:
    """The measured worker: ingest every article of the site once, then report."""
    parser = argparse.ArgumentParser(description="benchmark memory worker")
    parser.add_argument("--feed", required=True)
    parser.add_argument("--sitemap", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--articles", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("trafilatura", "htmldate", "worker", "storage"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    from bench.ingest import bench_settings, bench_sources
    from editions.api import Editions

    with Editions(args.database, settings=bench_settings(args.articles)) as editions:
        editions.archive  # noqa: B018  (migrate before the baseline sample)
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        started = time.perf_counter()
        counts = editions.run_once(sources=bench_sources(args.feed, args.sitemap)).counts()
        seconds = time.perf_counter() - started
    sys.stdout.write(json.dumps({"counts": counts, "seconds": seconds}) + "\n")


if __name__ == "__main__":
    _worker()
