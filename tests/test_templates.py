"""Per-host template learning (issue 10, item 4): lines that recur on a host's articles.

Through the real pipeline over a real local site and a real archive (SQLite and Postgres).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from editions.api import Editions
from editions.settings import Settings
from schedules.sources import Source
from storage.migrate import upgrade_engine
from storage.templates import MAX_BLOCKS_PER_HOST, PAGES, HostTemplates
from tests.pages import rss
from worker.extract.templates import MIN_PAGES, apply_host_template

# The simulated host prints these in every article's container, with no class or
# structure that the generic rules could go by: only repetition gives them away.
TEMPLATE_LINES = [
    "Gefällt Ihnen dieser Artikel? Unterstützen Sie unabhängigen Lokaljournalismus.",
    "Alle Rechte vorbehalten. Nachdruck nur mit Genehmigung der Redaktion.",
]
ARTICLES = 30


def _paragraphs(i: int) -> list[str]:
    return [
        f"Im Ortsteil Nummer {i} hat der Gemeinderat am Dienstag über den Ausbau der Radwege "
        f"beraten; Anwohnerinnen fragten nach Kosten und Bauzeit für den Abschnitt {i}-{j}, "
        f"der seit Jahren als gefährlich gilt."
        for j in range(5)
    ]


def _page(i: int) -> str:
    body = "".join(f"<p>{p}</p>" for p in _paragraphs(i))
    template = "".join(f"<p>{line}</p>" for line in TEMPLATE_LINES)
    return (
        "<!DOCTYPE html><html lang='de'><head><meta charset='utf-8'>"
        f"<title>Radwege im Ortsteil {i}</title></head><body><main><article>"
        f"<h1>Radwege im Ortsteil {i}</h1>{body}{template}</article></main></body></html>"
    )


def test_a_hosts_recurring_lines_are_learned_and_dropped(site, database_url):
    links = []
    for i in range(ARTICLES):
        site.add(f"/lokales/radwege-{i}", _page(i))
        links.append((f"Radwege {i}", site.url(f"/lokales/radwege-{i}")))
    site.add("/rss.xml", rss(links), content_type="application/rss+xml")
    feed = Source(name="lokal", url=site.url("/rss.xml"), kind="feed", every=timedelta(hours=1))
    settings = Settings(allow_private_addresses=True, host_delay=0.0, max_retries=0)
    with Editions(database_url, settings=settings) as ed:
        assert ed.run_once(sources=[feed]).counts() == {"new": ARTICLES}
        texts = [ed.show(url)["text"] for _title, url in links]
        engine = ed.archive.engine
        with engine.connect() as conn:
            pages = conn.execute(
                sa.text("select pages from host_block where fingerprint = :f"), {"f": PAGES}
            ).scalar_one()
    assert pages == ARTICLES, pages
    for i, text in enumerate(texts):
        # Every article keeps all of its own paragraphs.
        for paragraph in _paragraphs(i):
            assert paragraph in text
    with_template = [any(line in text for line in TEMPLATE_LINES) for text in texts]
    # A host seen for the first time falls back to the generic rules: the template
    # stays until enough articles were learned; then it is gone from every article.
    assert all(with_template[:MIN_PAGES])
    assert not any(with_template[MIN_PAGES:])


def test_a_new_host_falls_back_and_the_learning_is_bounded_per_host(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 't.db'}")
    upgrade_engine(engine)
    templates = HostTemplates(engine)
    text = "Eine Zeile des Artikels.\nNoch eine Zeile."
    assert apply_host_template(templates, "https://neu.example/a", text, learn=False) == text
    for n in range(3):
        templates.learn("gross.example", {f"{n}-{k:05d}" for k in range(MAX_BLOCKS_PER_HOST)})
    templates.learn("klein.example", {"abc"})
    with engine.connect() as conn:
        rows = dict(
            conn.execute(sa.text("select host, count(*) from host_block group by host")).all()
        )
    assert rows["gross.example"] == MAX_BLOCKS_PER_HOST + 1  # the blocks and the page count
    assert rows["klein.example"] == 2
    assert templates.counts("gross.example", [])[0] == 3
    engine.dispose()


def test_two_workers_learning_one_host_at_once_neither_collide_nor_lose_a_count(database_url):
    # Two first ingests of one host's articles at once (two Celery workers): the
    # template learning is part of each ingest's write and must not fail either.
    import threading

    from storage.archive import Archive

    with Archive(database_url) as archive:
        templates = HostTemplates(archive.engine)
        shared = {f"line-{i}" for i in range(40)}
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def learn() -> None:
            start.wait()
            try:
                templates.learn("news.example", shared)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=learn) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        pages, seen = templates.counts("news.example", shared)
        assert pages == 4 and set(seen.values()) == {4} and len(seen) == 40
