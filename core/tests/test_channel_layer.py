"""The channel layer that carries pushes between processes (Redis when REDIS_URL is set)."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer


def test_an_idle_receive_on_the_redis_layer_outlasts_its_blocking_pop(redis_url):
    # given: the Redis layer, whose receive is a blocking pop of brpop_timeout seconds
    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)

    async def scenario() -> dict:
        channel = await layer.new_channel()

        async def send_later() -> None:
            await asyncio.sleep(layer.brpop_timeout + 2)
            await layer.send(channel, {"type": "hello"})

        sender = asyncio.create_task(send_later())
        try:
            return await asyncio.wait_for(layer.receive(channel), layer.brpop_timeout + 10)
        finally:
            await sender
            await layer.flush()
            await layer.close_pools()

    # when: nothing comes for longer than one blocking pop, then a message does
    message = async_to_sync(scenario)()
    # then: the receive waited for it (a WebSocket consumer would have been dropped if the
    # client's socket read timed out first, as redis-py 8's 5 s default does)
    assert message["type"] == "hello"
