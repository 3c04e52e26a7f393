"""JSON-RPC batches against a real anvil: one HTTP request per chunk, answers in call order."""

import pytest
from django.test import override_settings

from chains import rpc
from chains.tests.support import RpcProxy, start_chain


@pytest.fixture
def chain():
    chain = start_chain(31337)
    yield chain
    chain.node.stop()


@pytest.fixture
def proxy(chain):
    proxy = RpcProxy(chain.node.rpc_url)
    yield proxy
    proxy.close()


def test_batch_call_answers_in_call_order_with_one_request_per_chunk(chain, proxy):
    # given: five blocks, and at most two calls per request
    chain.mine(5)
    numbers = [5, 1, 3, 0, 4]
    calls = [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
    # when
    with override_settings(CHAIN_RPC_BATCH_MAX=2):
        blocks = rpc.batch_call(proxy.url, calls)
    # then
    assert [int(b["number"], 16) for b in blocks] == numbers
    assert proxy.requests == 3


def test_batch_call_gives_none_for_a_block_the_node_does_not_have(chain):
    # when
    answers = rpc.batch_call(
        chain.node.rpc_url, [("eth_blockNumber", []), ("eth_getBlockByNumber", ["0x99", False])]
    )
    # then
    assert answers == ["0x0", None]


def test_batch_call_fails_whole_when_one_call_fails(chain):
    # when / then: an error answer to any call is the caller's error, naming the method
    with pytest.raises(rpc.RpcError, match="eth_getBlockByNumber"):
        rpc.batch_call(
            chain.node.rpc_url,
            [("eth_blockNumber", []), ("eth_getBlockByNumber", ["not a number", False])],
        )


def test_batch_call_reports_an_unreachable_node_as_chain_unavailable(chain, proxy):
    # given
    proxy.down = True
    # when / then
    with pytest.raises(rpc.ChainUnavailable):
        rpc.batch_call(proxy.url, [("eth_blockNumber", [])])
