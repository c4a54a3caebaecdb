"""``gilmok serve``: the API under gunicorn, one app (and one database pool) per worker.

Each worker loads its registry snapshot before it takes its first request (a national registry
takes a minute or more), telling the arbiter meanwhile that it is alive: gunicorn kills a worker
silent for ``timeout`` seconds, and a load inside the first request was killed that way, again
and again. Should the load fail (no database yet, no roads imported), the worker starts anyway
and the first request that needs the snapshot tries again, answering 503 if it cannot.

Each worker also runs the expiry and reconcile loop (:class:`api.feeds.loop.Worker`) in a daemon
thread, started before the snapshot load so that feeds end on time from the first second: the
loop's advisory lock makes exactly one worker of all the serves on a database lead it, the
others stand by and one takes over when the leader exits or dies. Stopping serve stops the
loop (gunicorn's ``worker_exit``), releasing the lock.

Requests gunicorn refuses before the app sees them (a request line or headers over its limits,
a request it cannot parse) are answered in the API's one JSON error shape too
(:class:`JsonErrorWorker`). gunicorn's control socket (``gunicornc``) is off: gilmok does not
use it, and every server of one user shared its one default path, so that stopping one
``gilmok serve`` deleted the socket of another still running.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import ThreadWorker

from api.settings import Settings


class GilmokServer(BaseApplication):
    """gunicorn with gilmok's app factory; each worker builds its app after the fork."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from api import create_app

        return create_app(self.settings)


#: gunicorn's parse errors that are the client's malformed request (400).
_MALFORMED = (
    http_errors.InvalidRequestLine,
    http_errors.InvalidRequestMethod,
    http_errors.InvalidHTTPVersion,
    http_errors.InvalidHeader,
    http_errors.InvalidHeaderName,
    http_errors.ObsoleteFolding,
    http_errors.InvalidChunkSize,
    http_errors.ChunkMissingTerminator,
    http_errors.InvalidChunkExtension,
)


def refusal(exc: BaseException, cfg: Any) -> tuple[int, str, str, str, dict[str, Any]] | None:
    """(status, reason, code, message, details) of a request gunicorn refused while parsing it,
    or None for an error that is not the client's (gunicorn's own answer stands)."""
    if isinstance(exc, http_errors.LimitRequestLine):
        limit = cfg.limit_request_line
        return (
            414,
            "URI Too Long",
            "request_line_too_long",
            f"the request line (method, path and query) is longer than the {limit} bytes"
            " accepted; send a shorter query",
            {"max_bytes": limit},
        )
    if isinstance(exc, http_errors.LimitRequestHeaders):
        count, size = cfg.limit_request_fields, cfg.limit_request_field_size
        return (
            431,
            "Request Header Fields Too Large",
            "request_headers_too_large",
            f"the request's headers are too many or too large: at most {count} header fields"
            f" of at most {size} bytes each are accepted",
            {"max_fields": count, "max_field_bytes": size},
        )
    if isinstance(exc, _MALFORMED) and not isinstance(
        exc, (http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName)
    ):
        return (
            400,
            "Bad Request",
            "malformed_request",
            f"the request is not valid HTTP: {exc}",
            {},
        )
    return None


class JsonErrorWorker(ThreadWorker):
    """gunicorn's threaded worker, answering the requests it refuses itself in gilmok's error
    shape (``{"code", "message", "details"}``, as :mod:`api.errors` answers every other error).

    Threaded because an event stream (``GET /v1/events``) holds its thread for as long as the
    console stays open: a sync worker would serve nothing else meanwhile. Stopping the worker
    ends its event streams at once (each gets an ``end`` event), so that a graceful stop does
    not wait for consoles to go away.
    """

    def handle_exit(self, sig: Any, frame: Any) -> None:
        super().handle_exit(sig, frame)
        app = getattr(self, "wsgi", None)  # None while the app is still being built
        if app is not None:
            # Imported only once the app is built: a signal that lands while the main thread is
            # still importing the app's modules would import them again, half made (ImportError).
            from api.event_hub import stop_event_hub

            stop_event_hub(app)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        refused = refusal(exc, self.cfg)
        if refused is None:
            super().handle_error(req, client, addr, exc)
            return
        status, reason, code, message, details = refused
        self.log.warning("refused a request from %s: %s", (addr or ("",))[0], exc)
        body = json.dumps({"code": code, "message": message, "details": details}).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            util.write_nonblock(client, head.encode("latin-1") + body)
        except OSError:
            self.log.debug("could not send the refusal of a request")


def load_snapshot_before_serving(worker: Any) -> None:
    """gunicorn ``post_worker_init``: load this worker's snapshot, heartbeating meanwhile."""
    from api.snapshot import snapshot_cache
    from geo.admin_locate import load_admin_boundaries

    app = worker.wsgi
    done = threading.Event()
    failed: list[BaseException] = []

    loaded: list[Any] = []

    def load() -> None:
        try:
            with app.app_context():
                loaded.append(snapshot_cache(app).get())
            # the boundaries every answer locates its points in (a second or two, once)
            load_admin_boundaries(loaded[0].crs)
        except Exception as exc:  # reported below; the first request tries again
            failed.append(exc)
        finally:
            done.set()

    threading.Thread(target=load, name="snapshot-load", daemon=True).start()
    while not done.wait(1.0):
        worker.notify()
    if loaded:
        worker.log.info(
            "registry snapshot loaded before serving, in %.1f s: %s",
            loaded[0].seconds,
            loaded[0].counts,
        )
    else:
        worker.log.warning(
            "registry snapshot not loaded at start (%s); the first request will try again",
            failed[0] if failed else "no answer",
        )


#: Seconds a stopping worker waits for its expiry loop's current tick to finish.
LOOP_STOP_TIMEOUT_S = 5.0


def start_expiry_loop(worker: Any) -> None:
    """Run the expiry and reconcile loop in a daemon thread of this gunicorn worker.

    It shares the worker's app: its database engine and its relay adapter (both safe across
    threads). Its log lines go to gunicorn's error log.
    """
    from api.feeds.loop import Worker

    state = worker.wsgi.extensions["gilmok"]
    loop_log = logging.getLogger("gilmok.worker")
    loop_log.handlers = list(worker.log.error_log.handlers)
    loop_log.setLevel(logging.INFO)
    loop_log.propagate = False
    loop = Worker(state.bind, state.relay, state.settings)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), name="expiry-loop", daemon=True)
    worker.gilmok_loop = (stop, thread)
    thread.start()


def stop_expiry_loop(arbiter: Any, worker: Any) -> None:  # noqa: ARG001 (gunicorn's signature)
    """gunicorn ``worker_exit``: stop this worker's loop and release its lock."""
    running = getattr(worker, "gilmok_loop", None)
    if running is None:
        return
    stop, thread = running
    stop.set()
    thread.join(LOOP_STOP_TIMEOUT_S)
    if thread.is_alive():
        worker.log.warning("expiry loop still in a tick after %.0f s; exiting", LOOP_STOP_TIMEOUT_S)
    else:
        worker.log.info("expiry loop stopped (pid %d)", os.getpid())


def warm_console_tiles(worker: Any) -> None:
    """Make the road tiles of the console's opening view in a thread of this worker (a second
    or so of PostGIS), so that the first console to open finds them made."""
    from api.console import OPENING_VIEW
    from api.tiles import warm_tiles

    def warm() -> None:
        started = time.perf_counter()
        try:
            made = warm_tiles(worker.wsgi, *OPENING_VIEW)
        except Exception as exc:  # a cold cache only costs the first console some time
            worker.log.warning("road tiles of the console's opening view not made: %s", exc)
            return
        worker.log.info(
            "road tiles of the console's opening view made: %d in %.1f s",
            made,
            time.perf_counter() - started,
        )

    threading.Thread(target=warm, name="tile-warm", daemon=True).start()


def prepare_worker(worker: Any) -> None:
    """gunicorn ``post_worker_init``: start the expiry loop, load the snapshot, then listen for
    camera changes (:mod:`api.live_changes`: one listener per worker process) and make the
    console's first road tiles."""
    from api.live_changes import start_listener

    start_expiry_loop(worker)
    load_snapshot_before_serving(worker)
    start_listener(worker.wsgi)
    warm_console_tiles(worker)


def default_workers() -> int:
    """gunicorn's advice: two per CPU, plus one."""
    return 2 * (os.cpu_count() or 1) + 1


#: Threads per worker for ordinary requests (event streams get threads of their own).
DEFAULT_REQUEST_THREADS = 4


def worker_threads(settings: Settings, request_threads: int) -> int:
    """Threads of one worker: ``request_threads`` for requests, and one per event stream it may
    hold (``GILMOK_EVENTS_MAX_STREAMS``), so that open consoles never starve the API."""
    return request_threads + settings.events_max_streams


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int | None = None,
    threads: int = DEFAULT_REQUEST_THREADS,
) -> None:
    """Run the API until interrupted (SIGINT/SIGTERM stop it gracefully).

    Each worker is a process with ``threads`` request threads plus one thread per event stream
    it may hold; a deployment serves ``workers × GILMOK_EVENTS_MAX_STREAMS`` consoles' streams.
    """
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers or default_workers(),
        "threads": worker_threads(settings, threads),
        "worker_class": JsonErrorWorker,
        "control_socket_disable": True,
        "preload_app": False,
        # a request that reloads a changed national registry takes a minute or more
        "timeout": 300,
        "post_worker_init": prepare_worker,
        "worker_exit": stop_expiry_loop,
        "graceful_timeout": 10,
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "gilmok",
    }
    preload_for_workers(settings)
    GilmokServer(settings, options).run()


def preload_for_workers(settings: Settings) -> None:
    """What every worker needs and no worker changes, loaded once in the master before the
    workers fork, so that each inherits it (its pages shared) instead of loading its own:
    the app's modules, the compiled loops of the incident query (loaded on a made-up sample,
    :func:`geo.incident.warm_up_on_a_sample`) and the administrative boundaries. A worker
    (re)started by gunicorn then maps the registry snapshot and answers."""
    from api import create_app
    from geo.admin_locate import load_admin_boundaries
    from geo.incident import warm_up_on_a_sample

    # an app made and dropped: every module a worker's app is made of is imported (it opens
    # no connection: its engine connects on first use)
    create_app(settings).extensions["gilmok"].bind.dispose()
    warm_up_on_a_sample(settings.working_crs)
    load_admin_boundaries(settings.working_crs)
