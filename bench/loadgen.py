"""The load generator of `make bench`: simulated users over the REST channel, in one asyncio loop.

Each user walks through the bench conversation, message after message, waiting for each answer
(and, with ``think``, that long again) before the next one. All users share one aiohttp session with
keep-alive connections, as a reverse proxy or the WeChat gateway keeps them to the bot. (The earlier
generator, one Python thread per user and a fresh TCP connection per message, gave the same
throughput within the run-to-run noise; this one is simpler and reports its own cost.) The client's
CPU time is reported beside every run (``client_cpu_s``, ``client_cpu_share`` of one core: about 5%
with 20 users here), so a reader can see what the measurement took from the server under test.
The same generator measures Rasa's ``rasa init`` bot.

Think time. With ``think`` each user is independent, as real users are: it starts at a random moment
within the first think period and waits a random time between 0.5x and 1.5x ``think`` (mean
``think``) after each answer, from a fixed seed so runs are repeatable. ``lockstep=True`` is the
worst case kept for comparison: every user starts at the same instant and waits exactly ``think``,
so the users stay in phase and every message arrives in a burst of ``users`` at once (that is what
the first generator did, and what a naive one does).
"""
from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Dict, List, Optional, Sequence, Tuple

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


def schedule(users: int, think: float, seed: int = 42, lockstep: bool = False) -> List[Tuple[float, random.Random]]:
    """Per user: the start offset in seconds and the random source of its think times."""
    out = []
    for u in range(users):
        rng = random.Random(seed * 100003 + u)
        start = 0.0 if (lockstep or not think) else rng.uniform(0.0, think)
        out.append((start, rng))
    return out


def think_time(rng: random.Random, think: float, lockstep: bool = False) -> float:
    return think if lockstep else rng.uniform(0.5 * think, 1.5 * think)


async def _run(url: str, conversation: Sequence[str], users: int, seconds: float, think: float,
               label: str, max_messages: Optional[int], lockstep: bool = False, seed: int = 42) -> Dict:
    lat: List[float] = []
    errors = [0]
    sent = [0]
    endpoint = url + "/webhooks/rest/webhook"
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    deadline = time.perf_counter() + seconds

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        plan = schedule(users, think, seed, lockstep)

        async def user(u: int) -> None:
            i = 0
            start, rng = plan[u]
            if start:
                await asyncio.sleep(start)
            while time.perf_counter() < deadline and (max_messages is None or sent[0] < max_messages):
                sent[0] += 1
                sender = f"bench-{label}-{users}-{think}{'-lock' if lockstep else ''}-{u}-{i // len(conversation)}"
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
                    await asyncio.sleep(think_time(rng, think, lockstep))

        cpu0, start = _cpu(), time.perf_counter()
        await asyncio.gather(*(user(u) for u in range(users)))
        elapsed = time.perf_counter() - start
        cpu = _cpu() - cpu0
    return {
        "users": users, "think_s": think, "arrivals": "lockstep" if lockstep else "independent",
        "seconds": round(elapsed, 1), "messages": len(lat),
        "errors": errors[0], "throughput_msg_s": round(len(lat) / elapsed, 1),
        "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99),
        "client_cpu_s": round(cpu, 2), "client_cpu_share": round(cpu / elapsed, 3),
        "samples": lat,
    }


def run_users(url: str, conversation: Sequence[str], users: int, seconds: float, think: float = 0.0,
              label: str = "x", max_messages: Optional[int] = None, lockstep: bool = False,
              seed: int = 42) -> Dict:
    """``users`` simulated users for ``seconds`` (or until ``max_messages`` were sent)."""
    return asyncio.run(_run(url, conversation, users, seconds, think, label, max_messages, lockstep, seed))
