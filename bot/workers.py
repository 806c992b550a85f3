"""Several Sanic workers that share the load: one listening socket per worker (``SO_REUSEPORT``).

With ``SANIC_WORKERS`` > 1, Sanic 21.12 (Rasa 3.6's) binds ONE listening socket in the main process
and forks the workers onto it. Every worker then waits on the same socket, and whichever wakes first
accepts every connection queued at that moment. Measured here with `ss` (docs/performance.md): a
burst of 20 keep-alive connections landed 20/0, 17/3, 15/5 on two workers, so one worker did all the
work while the other idled, and p95 latency doubled. A reverse proxy or the WeChat gateway keeps its
connections open, so the split at connect time is the split for good.

``serve_multiple`` here is Sanic's own, except for the socket: each worker binds its own listening
socket on the same address with ``SO_REUSEPORT`` (asyncio's ``create_server(reuse_port=True)``), and
the Linux kernel spreads new connections over the workers' sockets by a hash of the client address.
A worker that dies takes its socket with it, so no connection is queued on a socket nobody serves.
Before the workers start, the main process checks that the port is free with a plain bind (no
``SO_REUSEPORT``), so a second ``make run`` fails with "address in use" instead of silently sharing
the port with the first one.

Where ``SO_REUSEPORT`` is missing, or Sanic is given a socket or a unix socket, Sanic's own
``serve_multiple`` runs unchanged. ``install()`` is called by bot/serve.py (how ``make run`` starts Rasa).
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import socket
from ipaddress import ip_address
from signal import SIGINT, SIGTERM, Signals
from signal import signal as signal_func
from typing import Any, Dict

logger = logging.getLogger(__name__)
_original: Any = None


def supported(server_settings: Dict[str, Any]) -> bool:
    return (hasattr(socket, "SO_REUSEPORT") and not server_settings.get("sock")
            and not server_settings.get("unix") and server_settings.get("port") is not None)


def check_port_free(host: str, port: int) -> None:
    """Raise OSError (address in use) if anything listens on host:port; binds nothing for good."""
    try:
        family = socket.AF_INET6 if ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no conflict
        probe.bind((host, port))
    finally:
        probe.close()


def serve_multiple(server_settings: Dict[str, Any], workers: int) -> None:
    if not supported(server_settings):
        return _original(server_settings, workers)
    from sanic.log import logger as sanic_logger
    from sanic.server.events import trigger_events
    from sanic.server.runners import serve

    check_port_free(server_settings["host"], server_settings["port"])
    server_settings["reuse_port"] = True  # each worker: its own socket, SO_REUSEPORT
    server_settings["run_multiple"] = True
    server_settings["sock"] = None

    main_start = server_settings.pop("main_start", None)
    main_stop = server_settings.pop("main_stop", None)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    trigger_events(main_start, loop)

    processes = []

    def sig_handler(signal: int, frame: Any) -> None:
        sanic_logger.info("Received signal %s. Shutting down.", Signals(signal).name)
        for process in processes:
            os.kill(process.pid, SIGTERM)

    signal_func(SIGINT, lambda s, f: sig_handler(s, f))
    signal_func(SIGTERM, lambda s, f: sig_handler(s, f))
    mp = multiprocessing.get_context("fork")
    for _ in range(workers):
        process = mp.Process(target=serve, kwargs=server_settings)
        process.daemon = True
        process.start()
        processes.append(process)
    for process in processes:
        process.join()
    for process in processes:
        process.terminate()
    trigger_events(main_stop, loop)
    loop.close()


def install() -> None:
    global _original
    import sanic.app

    if _original is None:
        _original = sanic.app.serve_multiple
        sanic.app.serve_multiple = serve_multiple
