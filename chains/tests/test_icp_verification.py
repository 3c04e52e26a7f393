"""The ICP client refuses unverifiable answers, over HTTP against ``testing.icp_server``.

The server signs certificates and query answers for real with a per-server test root
key; each test makes it wrong in one way (``misbehave``) and expects one error type.
"""

from __future__ import annotations

import pytest
from django.test import override_settings

from chains.icp import (
    IC_ROOT_KEY,
    ICP_LEDGER_CANISTER_ID,
    IcpCanisterNotInSubnet,
    IcpCertificateStale,
    IcpClient,
    IcpDelegationInvalid,
    IcpSignatureInvalid,
)
from testing.icp_server import IcpTestServer

OWNER = "rrkah-fqaaa-aaaaa-aaaaq-cai"
XRC = "uf6dk-hyaaa-aaaaq-qaaaq-cai"


def client_for(server, **kwargs):
    kwargs.setdefault("root_key", server.root_key)
    return IcpClient(host=server.url, timeout=2.0, call_timeout=2.0, poll_interval=0.01, **kwargs)


@pytest.fixture(params=["root", "sharded", "subnet"])
def server(request):
    """The canisters on the root subnet, or on a delegated subnet (both range formats)."""
    delegated = request.param != "root"
    ranges_format = request.param if delegated else "sharded"
    with IcpTestServer(delegated=delegated, ranges_format=ranges_format) as srv:
        yield srv


@pytest.fixture
def client(server):
    with client_for(server) as c:
        yield c


def set_rate(server):
    server.set_exchange_rate(base="ICP", quote="USD", rate=12_000_000_000, decimals=9)


# --------------------------------------------------------------------------- accepted


def test_balance_verified_on_root_or_delegated_subnet_is_returned(server, client):
    # given
    server.set_balance(OWNER, 123_456_789)
    # when / then
    assert client.icrc1_balance_of(owner=OWNER) == 123_456_789


def test_update_call_outcome_verified_on_root_or_delegated_subnet_is_returned(server, client):
    # given
    set_rate(server)
    # when
    rate = client.get_exchange_rate(base="ICP", quote="USD")
    # then
    assert str(rate.rate) == "12.000000000"


def test_read_state_returns_the_verified_certificate(server, client):
    # when
    cert = client.read_state(ICP_LEDGER_CANISTER_ID, [[b"time"]])
    # then
    assert cert.delegated == (server.issuer.subnet_id != server.issuer.root_subnet_id)
    assert cert.lookup([b"time"]) is not None


def test_subnet_node_keys_are_read_once_and_reused(server, client):
    # given
    server.set_balance(OWNER, 1)
    # when
    client.icrc1_balance_of(owner=OWNER)
    client.icrc1_balance_of(owner=OWNER)
    # then: one /subnet read for two queries
    assert [r.paths for r in server.requests_to("read_state")] == [((b"subnet",),)]
    assert len(server.requests_to("query")) == 2


# --------------------------------------------------------------------------- refused


def test_balance_reply_tampered_after_signing_is_refused(server, client):
    # given
    server.set_balance(OWNER, 5)
    server.misbehave(tamper_leaf=True)
    # when / then (the /subnet certificate is tampered too: refused first)
    with pytest.raises(IcpSignatureInvalid):
        client.icrc1_balance_of(owner=OWNER)


@pytest.mark.parametrize("kind", ["missing", "invalid", "unknown_node"])
def test_balance_query_signature_missing_invalid_or_foreign_is_refused(server, client, kind):
    # given
    server.misbehave(query_signatures=kind)
    # when / then
    with pytest.raises(IcpSignatureInvalid):
        client.icrc1_balance_of(owner=OWNER)


def test_unknown_signing_node_makes_the_client_reread_the_node_keys_once(server, client):
    # given keys already cached, then a node the subnet does not list signs
    client.icrc1_balance_of(owner=OWNER)
    server.misbehave(query_signatures="unknown_node")
    # when
    with pytest.raises(IcpSignatureInvalid, match="not in the subnet"):
        client.icrc1_balance_of(owner=OWNER)
    # then
    assert len(server.requests_to("read_state")) == 2


@pytest.mark.parametrize("offset", [-400, 400])
def test_balance_from_a_stale_or_future_replica_is_refused(server, client, offset):
    # given the replica's clock is 400 s off (the bound is 300 s)
    server.misbehave(clock_offset_seconds=offset)
    # when / then
    with pytest.raises(IcpCertificateStale):
        client.icrc1_balance_of(owner=OWNER)


def test_certificate_age_bound_comes_from_the_client_setting(server):
    # given a replica 100 s behind and a client allowing 60 s
    server.misbehave(clock_offset_seconds=-100)
    with client_for(server, certificate_max_age=60) as strict, client_for(server) as default:
        # when / then
        with pytest.raises(IcpCertificateStale):
            strict.icrc1_balance_of(owner=OWNER)
        assert default.icrc1_balance_of(owner=OWNER) == 0


def test_update_call_certificate_tampered_is_refused_without_more_polling(server, client):
    # given
    set_rate(server)
    server.misbehave(tamper_leaf=True)
    # when
    with pytest.raises(IcpSignatureInvalid):
        client.get_exchange_rate(base="ICP", quote="USD")
    # then: a forged outcome is not retried as if the network had failed
    assert len(server.requests_to("read_state")) == 1


def test_update_call_certificate_stale_is_refused(server, client):
    # given
    set_rate(server)
    server.misbehave(clock_offset_seconds=-3600)
    # when / then
    with pytest.raises(IcpCertificateStale):
        client.get_exchange_rate(base="ICP", quote="USD")


def test_client_with_another_root_key_refuses_everything(server):
    # given a client that trusts mainnet's root key, talking to the test server
    server.set_balance(OWNER, 5)
    with client_for(server, root_key=IC_ROOT_KEY) as client:
        # when / then
        with pytest.raises((IcpSignatureInvalid, IcpDelegationInvalid)):
            client.icrc1_balance_of(owner=OWNER)
        set_rate(server)
        with pytest.raises((IcpSignatureInvalid, IcpDelegationInvalid)):
            client.get_exchange_rate(base="ICP", quote="USD")


@pytest.mark.parametrize("ranges_format", ["sharded", "subnet"])
@pytest.mark.parametrize(
    ("mischief", "error"),
    [
        ({"forge_delegation": True}, IcpDelegationInvalid),
        ({"nested_delegation": True}, IcpDelegationInvalid),
        ({"wrong_subnet_key": True}, IcpSignatureInvalid),
    ],
)
def test_bad_delegation_is_refused(ranges_format, mischief, error):
    # given a delegated subnet whose delegation is wrong in one way
    with IcpTestServer(delegated=True, ranges_format=ranges_format) as server:
        server.misbehave(**mischief)
        with client_for(server) as client:
            # when / then
            with pytest.raises(error):
                client.icrc1_balance_of(owner=OWNER)


@pytest.mark.parametrize("ranges_format", ["sharded", "subnet"])
def test_subnet_answering_for_a_canister_outside_its_ranges_is_refused(ranges_format):
    # given a subnet whose root-signed ranges hold the XRC but not the ICP ledger
    with IcpTestServer(
        delegated=True, ranges_format=ranges_format, canister_ranges=[(XRC, XRC)]
    ) as server:
        set_rate(server)
        with client_for(server) as client:
            # when / then
            assert str(client.get_exchange_rate(base="ICP", quote="USD").rate) == "12.000000000"
            with pytest.raises(IcpCanisterNotInSubnet):
                client.icrc1_balance_of(owner=OWNER)


# --------------------------------------------------------------------------- configuration


def test_client_trusts_mainnet_root_key_by_default():
    # when
    with IcpClient(host="https://icp-api.io") as client:
        # then
        assert client.root_key == IC_ROOT_KEY
        assert client.certificate_max_age == 300


def test_client_takes_root_key_and_age_from_settings():
    # given
    with IcpTestServer() as server:
        with override_settings(**server.client_settings(), ICP_CERTIFICATE_MAX_AGE=90):
            # when
            with IcpClient(host=server.url) as client:
                # then
                assert client.root_key == server.root_key
                assert client.certificate_max_age == 90
                assert client.icrc1_balance_of(owner=OWNER) == 0


@pytest.mark.parametrize("bad", ["zz", "00" * 133, IC_ROOT_KEY.hex()[:-2]])
def test_client_refuses_a_malformed_root_key_setting(bad):
    # given / when / then
    with override_settings(ICP_ROOT_KEY=bad), pytest.raises(ValueError):
        IcpClient(host="https://icp-api.io")
