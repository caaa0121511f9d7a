"""Which address is the client's, behind proxies we trust and ones we do not."""

from ipaddress import ip_network

from chat_server.rest.proxies import TrustedProxies

BALANCERS = TrustedProxies([ip_network("10.0.0.0/8"), ip_network("fd00::/8")])


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    assert BALANCERS.client_address("198.51.100.7", ["203.0.113.1"]) == "198.51.100.7"
    assert TrustedProxies([]).client_address("10.0.0.2", ["203.0.113.1"]) == "10.0.0.2"
    assert BALANCERS.client_address(None, ["203.0.113.1"]) is None


def test_the_right_most_address_that_is_not_a_trusted_proxy_is_the_client() -> None:
    # The client wrote the left entries itself; our balancer appended the last one.
    spoofed = "1.2.3.4, 10.9.9.9, 198.51.100.7"
    assert BALANCERS.client_address("10.0.0.2", [spoofed]) == "198.51.100.7"
    # Through two of our proxies, and in header lines split by an intermediary.
    assert BALANCERS.client_address("10.0.0.2", ["1.2.3.4, 198.51.100.7", "10.0.0.3"]) == (
        "198.51.100.7"
    )
    assert BALANCERS.client_address("fd00::2", ["2001:db8::1"]) == "2001:db8::1"


def test_without_a_forwarded_client_the_nearest_trusted_hop_is_used() -> None:
    assert BALANCERS.client_address("10.0.0.2", []) == "10.0.0.2"
    assert BALANCERS.client_address("10.0.0.2", ["10.0.0.3"]) == "10.0.0.3"
    # Not an address ("unknown", with a port): the client must not choose its key.
    assert BALANCERS.client_address("10.0.0.2", ["198.51.100.7, unknown"]) == "10.0.0.2"
    assert BALANCERS.client_address("10.0.0.2", ["198.51.100.7:443, 10.0.0.3"]) == "10.0.0.3"
    assert BALANCERS.client_address("10.0.0.2", [""]) == "10.0.0.2"


def test_ipv4_peers_of_a_dual_stack_socket_match_ipv4_networks() -> None:
    assert BALANCERS.client_address("::ffff:10.0.0.2", ["198.51.100.7"]) == "198.51.100.7"
    assert BALANCERS.client_address("10.0.0.2", ["::ffff:198.51.100.7"]) == "198.51.100.7"
