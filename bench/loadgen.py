"""The load generator of `make bench`: simulated users over the REST channel, in one asyncio loop.

Each user walks through the bench conversation, message after message, waiting for each answer
(and, with ``think``, that long again) before the next one. All users share one aiohttp session with
keep-alive connections, as a reverse proxy or the WeChat gateway keeps them to the bot. (The earlier
generator, one Python thread per user and a fresh TCP connection per message, gave the same
throughput within the run-to-run noise; this one is simpler and reports its own cost.) The client's
CPU time is reported beside every run (``client_cpu_s``, ``client_cpu_share`` of one core: about 5%
with 20 users here), so a reader can see what the measurement took from the server under test.
The same generator measures Rasa's ``rasa init`` bot.
"""
from __future__ import annotations

import asyncio
import os
import time
from typing import Dict, List, Optional, Sequence

import aiohttp


def pct(values: List[float], q: float) -> Optional[float]:
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(q / 100 * (len(values) - 1)))))
    return round(values[k], 2)


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


async def _run(url: str, conversation: Sequence[str], users: int, seconds: float, think: float,
               label: str, max_messages: Optional[int]) -> Dict:
    lat: List[float] = []
    errors = [0]
    sent = [0]
    endpoint = url + "/webhooks/rest/webhook"
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    deadline = time.perf_counter() + seconds

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def user(u: int) -> None:
            i = 0
            while time.perf_counter() < deadline and (max_messages is None or sent[0] < max_messages):
                sent[0] += 1
                sender = f"bench-{label}-{users}-{think}-{u}-{i // len(conversation)}"
                t = time.perf_counter()
                try:
                    async with session.post(endpoint, json={"sender": sender,
                                                            "message": conversation[i % len(conversation)]}) as r:
                        await r.read()
                        if r.status != 200:
                            raise RuntimeError(r.status)
                    lat.append((time.perf_counter() - t) * 1000)
                except Exception:
                    errors[0] += 1
                i += 1
                if think:
                    await asyncio.sleep(think)

        cpu0, start = _cpu(), time.perf_counter()
        await asyncio.gather(*(user(u) for u in range(users)))
        elapsed = time.perf_counter() - start
        cpu = _cpu() - cpu0
    return {
        "users": users, "think_s": think, "seconds": round(elapsed, 1), "messages": len(lat),
        "errors": errors[0], "throughput_msg_s": round(len(lat) / elapsed, 1),
        "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99),
        "client_cpu_s": round(cpu, 2), "client_cpu_share": round(cpu / elapsed, 3),
        "samples": lat,
    }


def run_users(url: str, conversation: Sequence[str], users: int, seconds: float, think: float = 0.0,
              label: str = "x", max_messages: Optional[int] = None) -> Dict:
    """``users`` simulated users for ``seconds`` (or until ``max_messages`` were sent)."""
    return asyncio.run(_run(url, conversation, users, seconds, think, label, max_messages))
