"""chains/anvil.py: the anvil launcher the HTLC tests and `make run` share."""

from __future__ import annotations

import socket
import time
import urllib.error
from pathlib import Path

import pytest

from chains.anvil import (
    ANVIL_BIN_ENV,
    AnvilError,
    AnvilNotFoundError,
    anvil_binary,
    free_port,
    rpc_call,
    start_anvil,
)


def _live_group_members(pgid: int) -> list[int]:
    """Pids in process group ``pgid`` that are not zombies (Linux /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process exited while we looked
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def test_start_anvil_answers_with_chain_id_and_stop_kills_whole_group():
    # given
    port = free_port()
    # when
    with start_anvil(port=port, chain_id=424242, block_time=None) as node:
        pgid = node.pid
        # then it is up on the requested port with the requested chain id
        assert node.rpc_url == f"http://127.0.0.1:{port}"
        assert int(rpc_call(node.rpc_url, "eth_chainId"), 16) == 424242
        # the npm shim and the native binary share the group
        assert len(_live_group_members(pgid)) >= 1
    # and after the context exits nothing in the group is left running
    assert not node.is_running()
    assert _live_group_members(pgid) == []
    with pytest.raises((urllib.error.URLError, OSError)):
        rpc_call(node.rpc_url, "eth_chainId", timeout=0.5)


def test_stop_is_idempotent():
    # given
    node = start_anvil(port=free_port(), chain_id=31337)
    # when
    node.stop()
    node.stop()
    # then
    assert not node.is_running()
    assert isinstance(node.output(), str)  # still readable after stop


def test_start_anvil_block_time_mines_without_transactions():
    # given a 1-second block time
    with start_anvil(port=free_port(), chain_id=31337, block_time=1) as node:
        first = int(rpc_call(node.rpc_url, "eth_blockNumber"), 16)
        # when
        time.sleep(2.2)
        # then
        assert int(rpc_call(node.rpc_url, "eth_blockNumber"), 16) >= first + 2


def test_anvil_binary_missing_raises_not_found(monkeypatch, tmp_path):
    # given
    monkeypatch.setenv(ANVIL_BIN_ENV, str(tmp_path / "no-such-anvil"))
    # when / then
    with pytest.raises(AnvilNotFoundError):
        anvil_binary()
    with pytest.raises(AnvilNotFoundError):
        start_anvil(port=free_port(), chain_id=1)


def test_start_anvil_port_in_use_raises():
    # given another listener on the port
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # when / then
        with pytest.raises(AnvilError, match="already in use"):
            start_anvil(port=port, chain_id=1)


def test_start_anvil_bad_arguments_raises_with_output():
    # when / then the error carries anvil's own message for diagnosis
    with pytest.raises(AnvilError, match="--bogus"):
        start_anvil(port=free_port(), chain_id=1, extra_args=("--bogus",))
