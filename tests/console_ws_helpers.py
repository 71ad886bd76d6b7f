"""Helpers of the tests that open the console's websocket."""
from __future__ import annotations

import asyncio
from typing import Any, Dict


async def connect(client, origin: str):
    """Open /ws as ``client`` from ``origin``; the console says hello first."""
    ws = await client.ws_connect("/ws", headers={"Origin": origin})
    assert await ws.receive_json(timeout=5) == {"type": "hello"}
    return ws


async def next_of(ws, event_type: str, timeout: float = 5.0) -> Dict[str, Any]:
    """The next event of ``event_type`` on ``ws`` (others are skipped)."""
    async def wait():
        while True:
            message = await ws.receive_json()
            if message["type"] == event_type:
                return message

    return await asyncio.wait_for(wait(), timeout)
