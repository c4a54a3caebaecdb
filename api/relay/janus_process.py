"""Run Janus for gilmok: write its configuration folder, start it, wait for it, stop it.

Janus reads every ``*.jcfg`` in its configuration folder, so gilmok writes a folder of its own
(under ``GILMOK_RELAY_RUNTIME_DIR``) with only the streaming plugin and the HTTP transport on
loopback, rather than using ``/etc/janus`` which starts every plugin.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from api.relay._secrets import derive, ensure_relay_secret
from api.relay.errors import RelayUnavailable
from api.relay.settings import RelaySettings
from geo.errors import ConfigurationError

JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
KEPT_PLUGINS = {"libjanus_streaming.so"}
#: HTTP for gilmok and scripts; WebSockets for browsers (one connection per feed: HTTP long polls
#: hold one of a browser's six connections per host each, and a seventh feed would stall).
KEPT_TRANSPORTS = {"libjanus_http.so", "libjanus_websockets.so"}
#: Seconds without a request or keepalive after which Janus drops an API session.
SESSION_TIMEOUT_S = 60


@dataclass(frozen=True)
class JanusPaths:
    """Files of one Janus instance inside the runtime folder."""

    config_dir: Path
    log_file: Path
    pid_file: Path

    @classmethod
    def of(cls, settings: RelaySettings) -> JanusPaths:
        root = settings.runtime_dir
        return cls(root / "janus-conf", root / "janus.log", root / "janus.pid")


def janus_secrets(master: str) -> dict[str, str]:
    """The Janus secrets derived from gilmok's master relay secret.

    ``api_secret`` authenticates gilmok's own requests, ``admin_secret`` the admin API (where
    viewers' tokens are added and removed), ``admin_key`` mountpoint creation.
    """
    return {
        name: derive(master, f"janus:{name}")
        for name in ("api_secret", "admin_secret", "admin_key")
    }


def _others(folder: str, kept: set[str]) -> str:
    """Comma-separated libraries in a Janus folder, except ``kept``: Janus's "disable" list."""
    found = sorted(p.name for p in (JANUS_LIB / folder).glob("*.so"))
    return ",".join(name for name in found if name not in kept)


def _quote(value: str) -> str:
    # libconfig strings are JSON-compatible double-quoted strings.
    return json.dumps(value)


def write_config(settings: RelaySettings, *, master_secret: str) -> JanusPaths:
    """Write Janus's configuration folder for ``settings``; returns the instance's paths."""
    if not settings.host.startswith("127.") and settings.host not in {"localhost", "::1"}:
        raise ConfigurationError(
            f"GILMOK_RELAY_HOST={settings.host!r}: gilmok runs Janus on loopback only; put a "
            "reverse proxy in front of it for viewers (GILMOK_RELAY_PUBLIC_URL)"
        )
    paths = JanusPaths.of(settings)
    paths.config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    sec = janus_secrets(master_secret)
    media_lo, media_hi = settings.media_ports
    src_lo, src_hi = settings.source_ports
    files = {
        "janus.jcfg": f"""\
general: {{
    configs_folder = {_quote(str(paths.config_dir))}
    plugins_folder = {_quote(str(JANUS_LIB / "plugins"))}
    transports_folder = {_quote(str(JANUS_LIB / "transports"))}
    events_folder = {_quote(str(JANUS_LIB / "events"))}
    loggers_folder = {_quote(str(JANUS_LIB / "loggers"))}
    debug_level = 4
    admin_secret = {_quote(sec["admin_secret"])}
    api_secret = {_quote(sec["api_secret"])}
    # Viewers authenticate with stored tokens, one per relayed stream, that gilmok adds and
    # removes through the admin API (no token_auth_secret: that would accept signed tokens,
    # which any holder of the secret can mint for any stream and which cannot be revoked).
    token_auth = true
    session_timeout = {SESSION_TIMEOUT_S}
    server_name = "gilmok-relay"
    hide_dependencies = true
}}
media: {{
    rtp_port_range = "{media_lo}-{media_hi}"
}}
nat: {{
    ice_ignore_list = "vmnet"
}}
plugins: {{
    disable = {_quote(_others("plugins", KEPT_PLUGINS))}
}}
transports: {{
    disable = {_quote(_others("transports", KEPT_TRANSPORTS))}
}}
loggers: {{
    disable = {_quote(_others("loggers", set()))}
}}
events: {{
    broadcast = false
}}
""",
        "janus.transport.http.jcfg": f"""\
general: {{
    json = "plain"
    base_path = "/janus"
    http = true
    ip = {_quote(settings.host)}
    port = {settings.port}
    https = false
}}
admin: {{
    admin_base_path = "/admin"
    admin_http = true
    admin_ip = {_quote(settings.host)}
    admin_port = {settings.admin_port}
    admin_https = false
}}
""",
        "janus.transport.websockets.jcfg": f"""\
general: {{
    json = "plain"
    ws = true
    ws_ip = {_quote(settings.host)}
    ws_port = {settings.ws_port}
    wss = false
}}
admin: {{
    admin_ws = false
    admin_wss = false
}}
""",
        "janus.plugin.streaming.jcfg": f"""\
general: {{
    admin_key = {_quote(sec["admin_key"])}
    rtp_port_range = "{src_lo}-{src_hi}"
    string_ids = true
    events = false
}}
""",
    }
    for name, text in files.items():
        target = paths.config_dir / name
        # The files hold secrets: create them owner-only before writing.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    return paths


def janus_answers(settings: RelaySettings, *, timeout_s: float = 0.5) -> str | None:
    """Janus's version string if its HTTP API answers ``info``, else None."""
    url = f"http://{settings.host}:{settings.port}/janus/info"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            info = json.load(resp)
    except (OSError, ValueError):
        return None
    version = info.get("version_string")
    return str(version) if version else "unknown"


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _is_our_janus(pid: int, config_dir: Path) -> bool:
    """True when ``pid`` is alive and is a Janus started with this configuration folder."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(config_dir).encode() in cmdline


class JanusProcess:
    """One Janus instance configured from :class:`api.relay.settings.RelaySettings`.

    Usable as a context manager (tests) or through ``start``/``stop`` across processes (CLI),
    in which case the pid file in the runtime folder links the two.
    """

    def __init__(self, settings: RelaySettings) -> None:
        self.settings = settings
        self.paths = JanusPaths.of(settings)
        self._child: subprocess.Popen[bytes] | None = None

    def pid(self) -> int | None:
        """Pid of the running Janus of this runtime folder, or None."""
        pid = _read_pid(self.paths.pid_file)
        if pid is not None and _is_our_janus(pid, self.paths.config_dir):
            return pid
        return None

    def start(self, *, timeout_s: float = 5.0, detach: bool = False) -> int:
        """Write the configuration and start Janus; returns its pid once its API answers.

        Parameters
        ----------
        timeout_s
            Seconds to wait for the HTTP API to answer.
        detach
            Run Janus in its own session so that it outlives this process (``gilmok relay
            start``); otherwise it is this process's child (tests, benchmarks).

        Raises
        ------
        RelayUnavailable
            Janus exited or did not answer in time (the message points at its log).
        ConfigurationError
            The port is taken by something else, or Janus is not installed.
        """
        if (pid := self.pid()) is not None:
            return pid
        if janus_answers(self.settings) is not None:
            raise ConfigurationError(
                f"something already answers on {self.settings.host}:{self.settings.port} that this "
                f"runtime folder did not start; stop it or set GILMOK_RELAY_PORT"
            )
        master = ensure_relay_secret(self.settings)
        paths = write_config(self.settings, master_secret=master)
        command = [
            self.settings.binary,
            "-F",
            str(paths.config_dir),
            "-L",
            str(paths.log_file),
            "-N",  # the log file is enough; stdout would fill a pipe nobody reads
            "-o",
        ]
        try:
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=detach,
                # Only a prctl call, resolved before the fork: safe enough with threads.
                preexec_fn=None if detach else _die_with_parent(),  # noqa: PLW1509
            )
        except FileNotFoundError:
            raise ConfigurationError(
                f"the relay binary {self.settings.binary!r} is not installed: run "
                "scripts/setup.sh --with-relay"
            ) from None
        paths.pid_file.write_text(f"{child.pid}\n")
        self._child = None if detach else child
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise RelayUnavailable(
                    f"Janus exited at start-up with status {child.returncode}; see {paths.log_file}"
                )
            if janus_answers(self.settings, timeout_s=0.2) is not None:
                return child.pid
            time.sleep(0.02)
        self._terminate(child.pid)
        raise RelayUnavailable(
            f"Janus did not answer on {self.settings.host}:{self.settings.port} within "
            f"{timeout_s:g} s; see {paths.log_file}"
        )

    def stop(self, *, timeout_s: float = 5.0) -> bool:
        """Stop this runtime folder's Janus; returns False when none was running."""
        pid = self.pid()
        if pid is None:
            return False
        self._terminate(pid, timeout_s=timeout_s)
        self.paths.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """Kill Janus at once (SIGKILL), as a crash would: tests of relay loss."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            self._reap(pid, timeout_s=5.0)
            self.paths.pid_file.unlink(missing_ok=True)

    def _terminate(self, pid: int, *, timeout_s: float = 5.0) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        if not self._reap(pid, timeout_s=timeout_s):
            os.kill(pid, signal.SIGKILL)
            self._reap(pid, timeout_s=timeout_s)

    def _reap(self, pid: int, *, timeout_s: float) -> bool:
        """Wait for ``pid`` to exit (reaping our own child); True if it did."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._child is not None and self._child.pid == pid:
                if self._child.poll() is not None:
                    self._child = None
                    return True
            elif not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                return True
            time.sleep(0.02)
        return False

    def __enter__(self) -> JanusProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _die_with_parent() -> Callable[[], None]:
    """A pre-exec hook asking the kernel to SIGTERM the child when its parent dies.

    A test run that is killed must not leave a Janus holding its ports. libc is loaded here,
    in the parent, so the forked child only makes one system call.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return hook


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state follows the parenthesised command name, which may itself contain spaces.
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
