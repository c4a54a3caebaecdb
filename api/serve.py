"""``gilmok serve``: the API under gunicorn, one app (and one database pool) per worker."""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication

from geo.settings import Settings


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


def default_workers() -> int:
    """gunicorn's advice: two per CPU, plus one."""
    return 2 * (os.cpu_count() or 1) + 1


def serve(settings: Settings, *, host: str, port: int, workers: int | None = None) -> None:
    """Run the API until interrupted (SIGINT/SIGTERM stop it gracefully)."""
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers or default_workers(),
        "worker_class": "sync",
        "preload_app": False,
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "gilmok",
    }
    GilmokServer(settings, options).run()
