"""X-Forwarded-For is believed only from configured proxies."""

from __future__ import annotations

from ioc.api.middleware import content_security_policy, parse_networks, real_client

PROXIES = parse_networks("10.0.0.5, 192.168.1.0/24")


def test_no_proxies_configured_means_the_peer() -> None:
    assert real_client("127.0.0.1", "6.6.6.6", ()) == "127.0.0.1"


def test_an_untrusted_peer_cannot_forge_it() -> None:
    assert real_client("203.0.113.9", "6.6.6.6", PROXIES) == "203.0.113.9"


def test_the_nearest_untrusted_hop_behind_trusted_proxies() -> None:
    # The client may prepend anything; only what our proxies appended is believed.
    assert real_client("10.0.0.5", "6.6.6.6, 198.51.100.7", PROXIES) == "198.51.100.7"
    assert real_client("10.0.0.5", "198.51.100.7, 192.168.1.20", PROXIES) == "198.51.100.7"


def test_csp_names_a_tile_server_only_when_configured() -> None:
    assert "tiles.example" not in content_security_policy(None)
    assert "https://tiles.example" in content_security_policy("https://tiles.example/{z}/{x}/{y}")
