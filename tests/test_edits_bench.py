"""The edit-tracking simulation (bench/edits.py, bench/edit_log.py) measures what it claims.

The synthetic log follows the published shape of news edits; ``score`` counts kept
edits and latencies as defined; the in-memory site answers conditional GETs with
304; and the real pipeline, replayed on the fake clock, makes the checks the
policy asks for and stores every real edit while noise makes no version.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bench.edit_log import EPOCH, EditedArticle, log_shape, make_edit_log, replay, score
from bench.edits import Clock, MemorySite, Page, replay_peers, run_churn, run_edit_log


def test_the_log_follows_the_published_shape() -> None:
    shape = log_shape(make_edit_log(4000, seed=9))
    assert 0.25 <= shape["edited_share"] <= 0.29
    assert 1.8 <= shape["edits_per_edited"] <= 2.2
    assert 0.55 <= shape["last_edit_same_day"] <= 0.67
    assert 0.85 <= shape["last_edit_within_2_days"] <= 0.95
    assert 40 <= shape["median_early_gap_min"] <= 75


def test_score_counts_kept_edits_and_latency() -> None:
    article = EditedArticle(0, EPOCH, [EPOCH + timedelta(minutes=30), EPOCH + timedelta(hours=1)])
    checks = {0: [EPOCH, EPOCH + timedelta(minutes=40), EPOCH + timedelta(hours=2)]}
    figures = score([article], checks)
    assert figures["first_day_kept"] == 1.0 and figures["first_day_edits"] == 2
    # Latencies: 10 minutes and 60 minutes.
    assert figures["early_latency_mean_min"] == 35.0
    assert figures["requests_per_article"] == 3
    merged = score([article], {0: [EPOCH, EPOCH + timedelta(hours=2)]})
    assert merged["first_day_kept"] == 0.5  # the first edit was never seen on its own


def test_replay_resets_on_a_change() -> None:
    article = EditedArticle(0, EPOCH, [EPOCH + timedelta(hours=5)])
    seen: list[object] = []

    def rule(first_seen, now, last_changed):
        seen.append(last_changed)
        return now + timedelta(hours=1) if now < EPOCH + timedelta(hours=8) else None

    checks = replay(article, rule)
    assert len(checks) == 9  # the first fetch and hourly checks up to 8 h
    assert seen[-1] == EPOCH + timedelta(hours=5)


def test_memory_site_answers_conditional_get_with_304() -> None:
    clock = Clock(EPOCH)
    page = Page("T", "B", ["A paragraph of text."], EPOCH, EPOCH)
    site = MemorySite(clock, lambda url, now: page)
    first = site.fetch("https://e.example/a")
    assert first.status == 200 and first.etag
    again = site.fetch("https://e.example/a", etag=first.etag)
    assert again.status == 304 and again.body == b""
    assert site.not_modified == 1 and len(site.requests["https://e.example/a"]) == 2


def test_the_real_pipeline_checks_as_the_policy_says(tmp_path: Path, corpus: Path) -> None:
    wired = run_edit_log(4, tmp_path, wired=True, seed=4)
    pure = replay_peers(4, seed=4)["policy"]
    # Same log, same policy: the pipeline's requests match the pure replay, give or
    # take the scheduler's one-minute tick.
    assert abs(wired["requests_per_article"] - pure["requests_per_article"]) <= 2
    assert wired["not_modified_share"] > 0.8
    assert wired["first_day_kept"] == pure["first_day_kept"]


def test_churn_noise_makes_no_version_and_real_edits_all_do(tmp_path: Path, corpus: Path) -> None:
    churn = run_churn(tmp_path, articles=15)
    assert churn["real_edits"] == 25
    assert churn["real_caught"] == churn["real_edits"]
    assert churn["reverts"] > 0
    # Only the cold start of template learning may slip through (a new site-wide line
    # counts until the host template has seen it on min_pages pages).
    assert churn["false_versions"] <= 2
    assert churn["false_versions"] < churn["false_versions_today"]
