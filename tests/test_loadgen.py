"""The bench's load generator: users with think time arrive independently (spread out), and the
lock-step mode really sends in bursts. Against a tiny local aiohttp server, not the bot."""
import asyncio
import threading
import time

from aiohttp import web

from bench.loadgen import run_users, schedule, think_time


def test_schedule_is_seeded_and_spread():
    a = schedule(20, 0.5, seed=7)
    b = schedule(20, 0.5, seed=7)
    assert [s for s, _ in a] == [s for s, _ in b]
    starts = [s for s, _ in a]
    assert all(0.0 <= s < 0.5 for s in starts)
    assert len({round(s, 3) for s in starts}) == 20
    assert all(s == 0.0 for s, _ in schedule(20, 0.5, lockstep=True))
    assert all(s == 0.0 for s, _ in schedule(5, 0.0))


def test_think_time_mean_and_bounds():
    _, rng = schedule(1, 0.5, seed=3)[0]
    times = [think_time(rng, 0.5) for _ in range(4000)]
    assert min(times) >= 0.25 and max(times) <= 0.75
    assert abs(sum(times) / len(times) - 0.5) < 0.01
    assert think_time(rng, 0.5, lockstep=True) == 0.5


class _Server:
    """A REST-webhook stand-in that records when each message arrived."""

    def __init__(self):
        self.arrivals = []
        self.port = None
        self._ready = threading.Event()
        self._loop = None

    async def _handle(self, request):
        body = await request.json()
        self.arrivals.append((time.perf_counter(), body["sender"]))
        return web.json_response([{"recipient_id": body["sender"], "text": "好的"}])

    def _main(self):
        self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._handle)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    def __enter__(self):
        threading.Thread(target=self._main, daemon=True).start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._loop.stop)


def _largest_burst(times, window=0.02):
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[i] - times[j] > window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_lockstep_bursts_and_independent_users_spread():
    with _Server() as server:
        url = f"http://127.0.0.1:{server.port}"
        out = run_users(url, ["你好", "还不上了"], users=10, seconds=1.2, think=0.3, label="t", lockstep=True)
        assert out["errors"] == 0 and out["arrivals"] == "lockstep"
        lock = [t for t, s in server.arrivals]
        server.arrivals.clear()
        out = run_users(url, ["你好", "还不上了"], users=10, seconds=1.2, think=0.3, label="t")
        assert out["errors"] == 0 and out["arrivals"] == "independent"
        free = [t for t, s in server.arrivals]
    # lock-step: all 10 users within a few ms of each other, every round
    assert _largest_burst(lock) >= 9
    # independent users: never close to all at once
    assert _largest_burst(free) <= 5
    # about one message per user per think period either way (1.2 s / ~0.3 s)
    assert 25 <= len(free) <= 60 and 25 <= len(lock) <= 60
