"""worker.canonical: one spelling per URL."""

from __future__ import annotations

import pytest

from worker.canonical import (
    InvalidURLError,
    amp_to_canonical_guess,
    canonicalize,
    is_tracking_parameter,
    registrable_domain,
    same_site,
)

CASES = [
    # scheme and host case
    ("HTTP://WWW.Example.COM/Path", "http://www.example.com/Path"),
    ("HtTpS://Example.com", "https://example.com/"),
    # default ports dropped, others kept
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:443/a", "http://example.com:443/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    # fragments and userinfo dropped
    ("https://example.com/a#section-2", "https://example.com/a"),
    ("https://user:secret@example.com/a", "https://example.com/a"),
    # tracking parameter families
    (
        "https://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x",
        "https://example.com/a",
    ),
    ("https://example.com/a?UTM_Source=rss", "https://example.com/a"),
    (
        "https://example.com/a?fbclid=IwAR0&gclid=abc&dclid=1&gbraid=2&wbraid=3",
        "https://example.com/a",
    ),
    ("https://example.com/a?msclkid=1&mc_cid=2&mc_eid=3&igshid=4&yclid=5", "https://example.com/a"),
    ("https://example.com/a?_ga=2.1&_gl=1*abc", "https://example.com/a"),
    ("https://example.com/a?ref_src=twsrc%5Etfw&ref_url=x", "https://example.com/a"),
    (
        "https://example.com/a?cmpid=1&ncid=2&ocid=3&icid=4&sr_share=twitter",
        "https://example.com/a",
    ),
    (
        "https://www.bbc.co.uk/news/x?at_medium=RSS&at_campaign=KARANGA",
        "https://www.bbc.co.uk/news/x",
    ),
    ("https://www.theguardian.com/x?CMP=share_btn_tw", "https://www.theguardian.com/x"),
    ("https://www.lemonde.fr/x.html?xtor=RSS-3208", "https://www.lemonde.fr/x.html"),
    (
        "https://www.nytimes.com/x.html?smid=tw-share&emc=rss&partner=rss",
        "https://www.nytimes.com/x.html?partner=rss",
    ),
    ("https://example.com/a?id=7&utm_source=x", "https://example.com/a?id=7"),
    # a bare 'ref' may be content routing: kept
    ("https://example.com/a?ref=home", "https://example.com/a?ref=home"),
    # AMP view switches
    ("https://example.com/a?amp=1", "https://example.com/a"),
    ("https://example.com/a?amp", "https://example.com/a"),
    ("https://example.com/a?outputType=amp", "https://example.com/a"),
    ("https://example.com/a?amp=page2", "https://example.com/a?amp=page2"),
    # sorted query, blank values kept
    ("https://example.com/a?b=2&a=1&c=", "https://example.com/a?a=1&b=2&c="),
    ("https://example.com/a?z&y=1", "https://example.com/a?y=1&z="),
    ("https://example.com/a?", "https://example.com/a"),
    # percent-encoding normalised
    ("https://example.com/%7euser/caf%c3%a9", "https://example.com/~user/caf%C3%A9"),
    ("https://example.com/café au lait", "https://example.com/caf%C3%A9%20au%20lait"),
    ("https://example.com/a?q=%2f", "https://example.com/a?q=%2F"),
    # dot segments, slash runs, empty path; trailing slash kept as is
    ("https://example.com/a/./b/../c", "https://example.com/a/c"),
    ("https://example.com//a///b", "https://example.com/a/b"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/a/", "https://example.com/a/"),
    # IDN host
    ("https://Bücher.example/x", "https://xn--bcher-kva.example/x"),
    ("http://пример.рф/", "http://xn--e1afmkfd.xn--p1ai/"),
    # whitespace around a copied URL
    ("  https://example.com/a \n", "https://example.com/a"),
    # IP hosts
    ("http://127.0.0.1:8080/a", "http://127.0.0.1:8080/a"),
    ("http://[::1]:8080/a", "http://[::1]:8080/a"),
]


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_canonicalize(url, expected):
    assert canonicalize(url) == expected


def test_canonicalize_is_idempotent():
    for url, _ in CASES:
        once = canonicalize(url)
        assert canonicalize(once) == once


@pytest.mark.parametrize(
    ("href", "base", "expected"),
    [
        ("/news/a", "https://example.com/index.html", "https://example.com/news/a"),
        ("b?x=1#top", "https://example.com/news/a", "https://example.com/news/b?x=1"),
        ("../c", "https://example.com/news/sub/a", "https://example.com/news/c"),
        ("//cdn.example.com/x", "https://example.com/", "https://cdn.example.com/x"),
        ("https://other.org/y", "https://example.com/", "https://other.org/y"),
    ],
)
def test_relative_urls_resolve_against_base(href, base, expected):
    assert canonicalize(href, base) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mailto:editor@example.com", "scheme 'mailto' is not http or https"),
        ("javascript:alert(1)", "scheme 'javascript'"),
        ("ftp://example.com/file", "scheme 'ftp'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("data:text/html,hi", "scheme 'data'"),
        ("", "empty URL"),
        ("   ", "empty URL"),
        ("http://", "no host"),
        ("https:///path", "no host"),
        ("news/article", "relative URL and no base"),
        ("http://example.com:99999/", "bad host or port"),
        ("http://exa mple.com/", "not allowed in a host"),
        ("http://[::1/", "not a URL"),
        ("http://example.com/\x00", "control characters"),
    ],
)
def test_bad_urls_raise_invalid_url(url, message):
    with pytest.raises(InvalidURLError) as caught:
        canonicalize(url)
    assert message in str(caught.value)


def test_bad_base_is_refused():
    with pytest.raises(InvalidURLError, match="base"):
        canonicalize("/a", "not-a-base")
    with pytest.raises(InvalidURLError):
        canonicalize("/a", "http://[broken")
    with pytest.raises(InvalidURLError, match="not a URL"):
        canonicalize("http://[broken", "https://example.com/")


def test_invalid_url_is_a_value_error():
    with pytest.raises(ValueError):
        canonicalize("gopher://example.com/")


def test_non_string_is_refused():
    with pytest.raises(InvalidURLError, match="must be a string"):
        canonicalize(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    [
        "utm_source",
        "utm_whatever",
        "UTM_CAMPAIGN",
        "fbclid",
        "gclid",
        "at_medium",
        "at_custom1",
        "ns_mchannel",
        "_ga",
        "mc_eid",
        "ref_src",
        "wt.mc_id",
        "pk_campaign",
        "mtm_source",
    ],
)
def test_tracking_parameters(name):
    assert is_tracking_parameter(name)


@pytest.mark.parametrize("name", ["id", "page", "q", "article", "ref", "amp", "story", "utm"])
def test_content_parameters_are_not_tracking(name):
    assert not is_tracking_parameter(name)


def test_feed_link_with_tracking_equals_plain_url():
    plain = "https://www.bbc.co.uk/news/world-europe-56789012"
    from_feed = plain + "?at_medium=RSS&at_campaign=KARANGA&utm_source=rss#comments"
    assert canonicalize(from_feed) == canonicalize(plain) == plain


@pytest.mark.parametrize(
    ("amp", "plain"),
    [
        ("https://www.example.com/news/story-1/amp/", "https://www.example.com/news/story-1/"),
        ("https://www.example.com/amp/news/story-1", "https://www.example.com/news/story-1"),
        ("https://www.bbc.co.uk/news/world-1.amp", "https://www.bbc.co.uk/news/world-1"),
        ("https://www.example.com/news/story.amp.html", "https://www.example.com/news/story.html"),
        ("https://www.example.com/story?amp=1&utm_source=x", "https://www.example.com/story"),
        ("https://amp.theguardian.com/world/2024/a", "https://www.theguardian.com/world/2024/a"),
        (
            "https://www-bbc-co-uk.cdn.ampproject.org/c/s/www.bbc.co.uk/news/world-1.amp",
            "https://www.bbc.co.uk/news/world-1",
        ),
    ],
)
def test_amp_copy_guess_finds_plain_url(amp, plain):
    assert amp_to_canonical_guess(amp) == plain


def test_amp_guess_is_none_for_plain_urls():
    assert amp_to_canonical_guess("https://www.example.com/news/ample-story") is None
    assert amp_to_canonical_guess("https://www.example.com/news/story") is None


def test_amp_copy_tracking_link_and_plain_url_agree():
    plain = "https://www.example.com/news/story-1"
    tracked = plain + "?utm_source=feed&fbclid=x"
    amp = "https://www.example.com/news/story-1/amp"
    assert canonicalize(tracked) == canonicalize(plain)
    assert amp_to_canonical_guess(amp) == canonicalize(plain)
    assert same_site(amp, plain)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://www.bbc.co.uk/news", "https://bbc.co.uk/sport", True),
        ("https://feeds.bbci.co.uk/news/rss.xml", "https://www.bbc.co.uk/news", False),
        ("https://amp.theguardian.com/a", "https://www.theguardian.com/a", True),
        ("https://a.github.io/", "https://b.github.io/", False),  # public suffix
        ("https://example.com/", "https://example.org/", False),
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/b", True),
        ("http://127.0.0.1/a", "http://127.0.0.2/a", False),
        ("https://Bücher.de/a", "https://www.xn--bcher-kva.de/", True),
        ("www.example.com", "https://example.com/x", True),
        # no public suffix (reserved .example): the last two labels
        ("https://sport.gazette.example/", "https://www.gazette.example/", True),
        ("https://gazette.example/", "https://other.example/", False),
    ],
)
def test_same_site(a, b, same):
    assert same_site(a, b) is same


def test_registrable_domain():
    assert registrable_domain("https://news.bbc.co.uk/x") == "bbc.co.uk"
    assert registrable_domain("http://127.0.0.1:5000/") == "127.0.0.1"
    assert registrable_domain("http://localhost/") == "localhost"
