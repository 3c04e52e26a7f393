"""The channel layer that carries pushes between processes (Redis when REDIS_URL is set)."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer

# redis-py 8 reads with a 5 s socket timeout by default: an idle wait longer than that.
IDLE_SECONDS = 7


def test_an_idle_receive_on_the_redis_layer_outlasts_the_socket_read_timeout(redis_url):
    # given: the Redis pub/sub layer
    layer = get_channel_layer()
    assert isinstance(layer, RedisPubSubChannelLayer)

    async def scenario() -> dict:
        channel = await layer.new_channel()

        async def send_later() -> None:
            await asyncio.sleep(IDLE_SECONDS)
            await layer.send(channel, {"type": "hello"})

        sender = asyncio.create_task(send_later())
        try:
            return await asyncio.wait_for(layer.receive(channel), IDLE_SECONDS + 10)
        finally:
            await sender
            await layer.flush()

    # when: nothing comes for longer than redis-py's socket read timeout, then a message does
    message = async_to_sync(scenario)()
    # then: the receive waited for it (under the list-based layer, whose blocking pop lasted
    # as long as that timeout, a WebSocket consumer's receive raised and the socket dropped)
    assert message["type"] == "hello"
