"""The SSRF guard: the block list (no traffic) and the Fetcher refusing private targets."""

from __future__ import annotations

import ipaddress

import pytest

from editions.demo.site import LocalSite
from editions.settings import Settings
from worker.fetch import Fetcher, Outcome
from worker.netguard import (
    BlockedAddressError,
    NetworkListError,
    ResolutionError,
    check_address,
    parse_networks,
    resolve_and_check,
)

BLOCKED = [
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",
    "100.127.255.254",
    "127.0.0.1",
    "127.255.0.9",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.2.10",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.251",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::127.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::7f00:1",
    "64:ff9b::a00:1",
    "64:ff9b:1::1",
    "100::1",
    "2001::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:db8::1",
    "2002:7f00:1::1",
    "2002:a9fe:a9fe::1",
    "2002:c0a8:101::1",
    "3fff::1",
    "5f00::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fe80::1%lo",
    "fec0::1",
    "ff02::1",
    "4000::1",
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "100.63.255.255",
    "100.128.0.0",
    "172.32.0.1",
    "198.20.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4007:80e::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize("ip", BLOCKED)
def test_check_address_blocks(ip: str) -> None:
    with pytest.raises(BlockedAddressError) as info:
        check_address(ip, host="news.example")
    message = str(info.value)
    assert "news.example" in message and ip in message
    assert info.value.reason


@pytest.mark.parametrize("ip", PUBLIC)
def test_check_address_allows_public(ip: str) -> None:
    check_address(ip)


def test_embedded_v4_named_in_reason() -> None:
    with pytest.raises(BlockedAddressError, match=r"embedding 169\.254\.169\.254"):
        check_address("::ffff:169.254.169.254")


def test_not_an_address() -> None:
    with pytest.raises(BlockedAddressError, match="not an IP address"):
        check_address("localhost")


def test_python_misses_what_the_list_catches() -> None:
    # The reason for an explicit list: ipaddress thinks this 6to4 wrapper of
    # loopback is harmless in Python 3.11.
    assert not ipaddress.ip_address("2002:7f00:1::1").is_private
    with pytest.raises(BlockedAddressError):
        check_address("2002:7f00:1::1")


def test_resolve_and_check_refuses_localhost() -> None:
    with pytest.raises(BlockedAddressError) as info:
        resolve_and_check("localhost", 80, allow_private=False)
    assert "localhost resolves to" in str(info.value)
    # The refusal says how to allow it (issue 12 item 9).
    assert "EDITIONS_ALLOW_PRIVATE_ADDRESSES" in str(info.value)


def test_resolve_and_check_allows_private_when_told() -> None:
    infos = resolve_and_check("127.0.0.1", 8080, allow_private=True)
    assert {info[4][0] for info in infos} == {"127.0.0.1"}


def test_resolve_and_check_allowed_network() -> None:
    networks = parse_networks("127.0.0.0/30")
    infos = resolve_and_check("127.0.0.2", 80, allow_private=False, allowed_networks=networks)
    assert infos[0][4][0] == "127.0.0.2"
    with pytest.raises(BlockedAddressError):
        resolve_and_check("127.0.0.9", 80, allow_private=False, allowed_networks=networks)


@pytest.mark.parametrize("host", ["nonexistent.invalid", "bad..label"])
def test_resolve_unknown_host(host: str) -> None:
    with pytest.raises(ResolutionError, match="cannot resolve"):
        resolve_and_check(host, 80, allow_private=False)


def test_parse_networks() -> None:
    assert parse_networks("") == ()
    assert parse_networks(" 10.0.0.0/8 , fd00::/8 ") == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("fd00::/8"),
    )
    with pytest.raises(NetworkListError, match=r"'10\.0\.0\.0/33'"):
        parse_networks("10.0.0.0/33")
    with pytest.raises(NetworkListError, match="'intranet'"):
        parse_networks(["intranet"])


def guarded(**overrides: object) -> Fetcher:
    settings = Settings(
        allow_private_addresses=False, robots_enabled=False, max_retries=0, **overrides
    )
    return Fetcher(settings)


def test_fetcher_blocks_loopback(site: LocalSite) -> None:
    site.add("/secret", "<p>internal</p>")
    with guarded() as fetcher:
        result = fetcher.fetch(site.url("/secret"))
    assert result.outcome is Outcome.BLOCKED
    assert "127.0.0.1" in (result.error or "") and "loopback" in (result.error or "")
    assert "EDITIONS_ALLOW_PRIVATE_ADDRESSES=1" in (result.error or "")
    assert result.body == b"" and result.status is None
    assert site.requests == []


def test_fetcher_blocks_loopback_by_name(site: LocalSite) -> None:
    with guarded() as fetcher:
        result = fetcher.fetch(f"http://localhost:{site.port}/")
    assert result.outcome is Outcome.BLOCKED
    assert "localhost resolves to" in (result.error or "")
    assert site.requests == []


def test_fetcher_guards_https_too(site: LocalSite) -> None:
    with guarded() as fetcher:
        result = fetcher.fetch(f"https://localhost:{site.port}/")
    assert result.outcome is Outcome.BLOCKED and "loopback" in (result.error or "")
    assert site.requests == []


def test_fetcher_blocks_private_redirect_hop(site: LocalSite) -> None:
    # A second loopback address stands in for a public host: it is exempted by
    # ALLOWED_NETWORKS, and it redirects to the (refused) site on 127.0.0.1.
    site.add("/admin", "<p>internal</p>")
    with LocalSite(host="127.0.0.2") as public:
        public.add("/story", b"", status=302, headers={"Location": site.url("/admin")})
        story = f"http://127.0.0.2:{public.port}/story"
        with guarded(allowed_networks="127.0.0.2/32") as fetcher:
            result = fetcher.fetch(story)
        assert [r.path for r in public.requests] == ["/story"]
    assert result.outcome is Outcome.BLOCKED
    assert result.redirects == [story]
    assert result.final_url == site.url("/admin")
    assert "127.0.0.1" in (result.error or "")
    assert site.requests == []


def test_fetcher_allows_private_when_told(site: LocalSite) -> None:
    site.add("/ok", "<p>fine</p>")
    with Fetcher(Settings(allow_private_addresses=True, robots_enabled=False)) as fetcher:
        assert fetcher.fetch(site.url("/ok")).ok


def test_fetcher_bad_allowed_networks_setting() -> None:
    with pytest.raises(NetworkListError):
        Fetcher(Settings(allowed_networks="not-a-network"))
