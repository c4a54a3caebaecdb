"""The console's whole stack inside a network namespace: Janus, the camera simulator, ``gilmok
serve`` and Debian's Chromium, for the browser tests and ``bench/console_feeds.py``.

Everything that speaks WebRTC or HTTP runs inside :class:`netns.NetworkNamespace` (Janus gathers
no ICE candidate on loopback; see that module), on the namespace's own 127.0.0.1 with fixed
ports, since the namespace is new and empty. PostgreSQL stays outside: ``gilmok serve`` reaches
it through its unix socket (``scripts/setup.sh`` lets gilmok's two roles log in there with their
passwords). The test process reaches the services inside through :meth:`ConsoleStack.api` and
:meth:`ConsoleStack.janus_admin`, and drives Chromium through Playwright, whose driver (and so the
browser it launches) is started inside. Nothing is fetched and no browser is downloaded: the
browser is ``/usr/bin/chromium``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from netns import NetworkNamespace
from sqlalchemy.engine import URL

from api.relay.camsim import CameraSimulator
from api.relay.janus_process import JanusProcess, janus_secrets
from api.relay.settings import RelaySettings
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "api" / "console" / "web"
CHROMIUM = "/usr/bin/chromium"
PG_SOCKET_DIR = "/var/run/postgresql"
SERVE_PORT = 8000
#: Chromium's switches for WebRTC to Janus inside the namespace: host candidates as addresses
#: (mDNS names are not resolvable by Janus), video playing without a gesture, no network
#: activity of the browser's own, and no setuid sandbox (root in CI).
CHROMIUM_ARGS = (
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
)


#: Mounts the video wall alone (the script of :func:`video_wall_script`) on a page of the API's
#: origin as ``window.wall``, its API calls made with a key (``window.api``).
MOUNT_WALL = """(key) => {
  const call = async (method, path, body) => {
    const r = await fetch(path, {method, headers: {Authorization: `Bearer ${key}`,
      "Content-Type": "application/json"}, body: body && JSON.stringify(body)});
    if (!r.ok) throw Object.assign(new Error(`HTTP ${r.status}`), {status: r.status});
    return r.json();
  };
  window.api = {get: (p) => call("GET", p), post: (p, b = {}) => call("POST", p, b)};
  document.body.replaceChildren();
  window.wall = window.gilmokVideoWall.mountVideoWall(document.body, {api: window.api});
}"""


def video_wall_script(out_dir: Path) -> Path:
    """The video wall alone, bundled from the console's sources as a classic script exposing
    ``gilmokVideoWall`` (esbuild from the console's own npm packages, installed at set-up)."""
    entry = 'import { mountVideoWall } from "./src/videowall.js";\n'
    entry += "window.gilmokVideoWall = { mountVideoWall };\n"
    out = out_dir / "videowall-alone.js"
    subprocess.run(
        [str(WEB / "node_modules" / ".bin" / "esbuild"), "--bundle", "--format=iife",
         f"--outfile={out}", "--sourcefile=videowall-alone.js", "--log-level=warning"],
        input=entry, text=True, check=True, cwd=WEB,
    )  # fmt: skip
    return out


def open_wall(page: Any, base_url: str, key: str, script: Path) -> None:
    """Mount the wall alone on a page of the API's origin (``/healthz``: no console page, so
    no session is needed, only the key)."""
    page.goto(f"{base_url}/healthz")
    page.add_style_tag(path=str(WEB / "src" / "videowall.css"))
    page.add_script_tag(path=str(script))
    page.evaluate(MOUNT_WALL, key)


_prctl = ctypes.CDLL(None, use_errno=True).prctl
PR_SET_PDEATHSIG = 1


def _term_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies (a killed run must not
    leave a server inside a namespace nobody will delete)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def over_unix_socket(url: URL) -> URL:
    """The same database and login, through PostgreSQL's unix socket instead of TCP."""
    return url.set(host=None, port=None, query={**url.query, "host": PG_SOCKET_DIR})


class ConsoleStack:
    """Janus, the camera simulator and ``gilmok serve`` (1 worker) in a namespace of their own.

    Parameters
    ----------
    owner_url
        The database (as its owner; the service's login is derived from ``settings``).
    settings
        The run's settings (for the service role's login).
    runtime_dir
        Folder for Janus's configuration and the logs.
    cameras
        Cameras the simulator serves (``/cam1`` ...).
    env
        Extra ``GILMOK_*`` variables for ``gilmok serve``.
    """

    def __init__(
        self,
        owner_url: URL,
        settings: Settings,
        runtime_dir: Path,
        *,
        cameras: int = 12,
        env: dict[str, str] | None = None,
    ) -> None:
        self.ns = NetworkNamespace()
        self.runtime_dir = runtime_dir
        self.relay = RelaySettings(
            host="127.0.0.1",
            port=8088,
            admin_port=7088,
            ws_port=8188,
            secret=f"console-{secrets.token_urlsafe(24)}",
            runtime_dir=runtime_dir / "relay",
            media_ports=(20000, 20999),
            source_ports=(21000, 21999),
            source_timeout_s=2.0,
            camsim_port=8554,
        )
        service_url = settings.database_url.set(database=owner_url.database)
        self.serve_env = {
            **os.environ,
            "GILMOK_OWNER_DATABASE_URL": over_unix_socket(owner_url).render_as_string(
                hide_password=False
            ),
            "GILMOK_DATABASE_URL": over_unix_socket(service_url).render_as_string(
                hide_password=False
            ),
            "GILMOK_RELAY_BACKEND": "janus",
            "GILMOK_RELAY_HOST": self.relay.host,
            "GILMOK_RELAY_PORT": str(self.relay.port),
            "GILMOK_RELAY_ADMIN_PORT": str(self.relay.admin_port),
            "GILMOK_RELAY_WS_PORT": str(self.relay.ws_port),
            "GILMOK_RELAY_SECRET": str(self.relay.secret),
            "GILMOK_RELAY_RUNTIME_DIR": str(self.relay.runtime_dir),
            "GILMOK_RATE_LIMIT": "off",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.cameras = cameras
        self.base_url = f"http://127.0.0.1:{SERVE_PORT}"
        self.serve_log = runtime_dir / "serve.log"
        self.janus: JanusProcess | None = None
        self.camsim: CameraSimulator | None = None
        self.server: subprocess.Popen[bytes] | None = None
        self._playwright: Any = None

    # ---- start and stop ------------------------------------------------------------------

    def start(self, *, timeout_s: float = 120.0) -> ConsoleStack:
        """Make the namespace and start everything in it; on failure, stop what started."""
        self.ns.create()
        try:
            with self.ns.inside():
                self.janus = JanusProcess(self.relay)
                self.janus.start()
                self.camsim = CameraSimulator(cameras=self.cameras, port=self.relay.camsim_port)
                self.camsim.start()
                command = [sys.executable, "-m", "api.cli", "serve", "--workers", "1"]
                command += ["--host", "127.0.0.1", "--port", str(SERVE_PORT)]
                with self.serve_log.open("wb") as out:
                    self.server = subprocess.Popen(
                        command,
                        cwd=ROOT,
                        env=self.serve_env,
                        stdout=out,
                        stderr=out,
                        # gone with this process, even when it is killed (see JanusProcess)
                        preexec_fn=_term_with_parent,  # noqa: PLW1509
                    )
            self._await_serve(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _await_serve(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.server is not None
            if self.server.poll() is not None:
                raise RuntimeError(f"gilmok serve exited:\n{self.serve_log.read_text()[-3000:]}")
            try:
                status, body = self.api("GET", "/healthz")
                if status == 200 and body["status"] == "ok":
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"gilmok serve not ready in {timeout_s} s:\n{self.serve_log.read_text()[-3000:]}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the browser driver, serve, the simulator and Janus; delete the namespace."""
        if self._playwright is not None:
            try:
                self._playwright.stop()
            finally:
                self._playwright = None
        try:
            if self.server is not None and self.server.poll() is None:
                self.server.send_signal(signal.SIGTERM)
                try:
                    self.server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.server.kill()
                    self.server.wait()
            if self.camsim is not None:
                self.camsim.stop()
            if self.janus is not None:
                self.janus.stop()
        finally:
            # Anything still inside (a browser a crashed driver left) goes with the namespace.
            for pid in self.ns.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.ns.remove()

    def __enter__(self) -> ConsoleStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- talking to what runs inside --------------------------------------------------------

    def _http(
        self, method: str, url: str, body: Any, headers: dict[str, str], timeout_s: float
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with self.ns.inside():
            try:
                with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                    status, raw = resp.status, resp.read()
            except urllib.error.HTTPError as exc:
                status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def api(
        self, method: str, path: str, key: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        """One request to ``gilmok serve`` with an API key; (status, decoded JSON)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self._http(method, self.base_url + path, body, headers, 30.0)

    def janus_admin(self, body: dict[str, Any]) -> dict[str, Any]:
        """One request to Janus's admin API (with gilmok's admin secret)."""
        admin_secret = janus_secrets(str(self.relay.secret))["admin_secret"]
        payload = {**body, "transaction": secrets.token_hex(6), "admin_secret": admin_secret}
        url = f"http://{self.relay.host}:{self.relay.admin_port}/admin"
        status, reply = self._http("POST", url, payload, {}, 10.0)
        assert status == 200, (status, reply)
        return dict(reply)

    def relay_streams(self) -> list[str]:
        """Ids of every mountpoint Janus holds: the streaming plugin's ``list`` with the
        admin key, which shows private mountpoints too (gilmok makes only private ones)."""
        secrets_ = janus_secrets(str(self.relay.secret))
        base = f"http://{self.relay.host}:{self.relay.port}/janus"

        def core(path: str, body: dict[str, Any]) -> dict[str, Any]:
            payload = {**body, "transaction": secrets.token_hex(6)}
            payload["apisecret"] = secrets_["api_secret"]
            status, reply = self._http("POST", base + path, payload, {}, 10.0)
            assert status == 200, reply
            assert reply.get("janus") in ("success", "ack"), reply
            return dict(reply)

        session = core("", {"janus": "create"})["data"]["id"]
        try:
            handle = core(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.streaming"})
            listed = core(
                f"/{session}/{handle['data']['id']}",
                {
                    "janus": "message",
                    "body": {"request": "list", "admin_key": secrets_["admin_key"]},
                },
            )
        finally:
            core(f"/{session}", {"janus": "destroy"})
        data = listed["plugindata"]["data"]
        assert "list" in data, data
        return sorted(str(m["id"]) for m in data["list"])

    def viewer_tokens(self) -> list[str]:
        """Every viewer token Janus still accepts (the admin API's ``list_tokens``)."""
        tokens = self.janus_admin({"janus": "list_tokens"})["data"]["tokens"]
        return sorted(str(t["token"]) for t in tokens)

    # ---- the browser -----------------------------------------------------------------------

    def browser(self) -> Any:
        """Debian's Chromium, headless, launched by a Playwright driver started inside."""
        from playwright.sync_api import sync_playwright

        if self._playwright is None:
            with self.ns.inside():
                self._playwright = sync_playwright().start()
        return self._playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
