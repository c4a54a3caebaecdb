"""Start, control and stop the camera simulator, and map cameras to its RTSP URLs.

The simulator itself (:mod:`api.relay.camsim_server`) runs under the system Python, which has
GStreamer's bindings; this module only manages that process, so it imports no ``gi``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from api.relay.settings import RelaySettings
from geo.errors import ConfigurationError, InvalidInput

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("camsim_server.py")


def camera_url(cam: int, *, host: str = "127.0.0.1", port: int = 8554) -> str:
    """RTSP URL of simulated camera number ``cam`` (1-based)."""
    return f"rtsp://{host}:{port}/cam{cam}"


def map_cameras(
    camera_ids: Sequence[str], *, cameras: int, host: str = "127.0.0.1", port: int = 8554
) -> dict[str, str]:
    """Give each real camera id a simulated source, in order, reusing sources past ``cameras``.

    Examples
    --------
    >>> map_cameras(["a", "b", "c"], cameras=2, port=8554)["c"]
    'rtsp://127.0.0.1:8554/cam1'
    """
    if cameras < 1:
        raise InvalidInput("the simulator needs at least one camera")
    return {
        cid: camera_url(i % cameras + 1, host=host, port=port) for i, cid in enumerate(camera_ids)
    }


def _command(*, cameras: int, host: str, port: int, stdin_control: bool) -> list[str]:
    if not Path(SYSTEM_PYTHON).exists():
        raise ConfigurationError(f"{SYSTEM_PYTHON} is missing: run scripts/setup.sh --with-relay")
    command = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--cameras", str(cameras)]
    command += ["--host", host, "--port", str(port)]
    return [*command, "--stdin-control"] if stdin_control else command


def _await_ready(proc: subprocess.Popen[str], *, timeout_s: float) -> int:
    """The port from the simulator's ``READY <port>`` line."""
    assert proc.stdout is not None
    out: IO[str] = proc.stdout
    result: list[str] = []
    # readline blocks; a thread keeps the timeout honest if the simulator hangs at start.
    reader = threading.Thread(target=lambda: result.append(out.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    line = result[0] if result else ""
    if not line.startswith("READY "):
        proc.kill()
        proc.wait()
        hint = "" if Path(SYSTEM_PYTHON).exists() else f" ({SYSTEM_PYTHON} missing)"
        raise ConfigurationError(
            f"the camera simulator did not start{hint}: is the port free and GStreamer installed "
            "(scripts/setup.sh --with-relay)?"
        )
    return int(line.split()[1])


class CameraSimulator:
    """A camera simulator process owned by this Python process (tests, benchmarks, demo).

    Parameters
    ----------
    cameras
        Number of cameras, served at ``/cam1`` ... ``/camN``.
    host
        Address to listen on (loopback).
    port
        TCP port; 0 picks a free one (read :attr:`port` after :meth:`start`).
    """

    def __init__(self, *, cameras: int = 16, host: str = "127.0.0.1", port: int = 8554) -> None:
        self.cameras = cameras
        self.host = host
        self.port = port
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def start(self, *, timeout_s: float = 10.0) -> int:
        """Start serving; returns the port once the RTSP server listens."""
        if self._proc is not None:
            return self.port
        proc = subprocess.Popen(
            _command(cameras=self.cameras, host=self.host, port=self.port, stdin_control=True),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.port = _await_ready(proc, timeout_s=timeout_s)
        self._proc = proc
        return self.port

    def url(self, cam: int) -> str:
        """RTSP URL of camera ``cam`` on this simulator."""
        return camera_url(cam, host=self.host, port=self.port)

    def missing_url(self) -> str:
        """URL of a path this simulator does not serve: a camera that is not there."""
        return camera_url(self.cameras + 1000, host=self.host, port=self.port)

    def down(self, cam: int) -> None:
        """Take camera ``cam`` off the air (its stream stops; new connections get 404)."""
        self._control(f"down {cam}")

    def up(self, cam: int) -> None:
        """Bring camera ``cam`` back."""
        self._control(f"up {cam}")

    def _control(self, line: str) -> None:
        with self._lock:
            if self._proc is None or self._proc.stdin is None or self._proc.stdout is None:
                raise InvalidInput("the camera simulator is not running")
            self._proc.stdin.write(line + "\n")
            self._proc.stdin.flush()
            answer = self._proc.stdout.readline().strip()
        if answer != f"OK {line}":
            raise InvalidInput(f"camera simulator refused {line!r}: {answer or 'no answer'}")

    def stop(self) -> None:
        """Stop the simulator (closing its stdin ends it; SIGTERM if it lingers)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=3)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> CameraSimulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# ---- a simulator outliving the command that started it (``gilmok camsim start``) ----


def _pid_file(settings: RelaySettings) -> Path:
    return settings.runtime_dir / "camsim.pid"


def _is_simulator(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(SERVER_SCRIPT).encode() in cmdline


def running_pid(settings: RelaySettings) -> int | None:
    """Pid of the background simulator started from this runtime folder, or None."""
    try:
        pid = int(_pid_file(settings).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _is_simulator(pid) else None


def start_background(settings: RelaySettings, *, cameras: int, timeout_s: float = 10.0) -> int:
    """Start a detached simulator on ``settings.camsim_port``; returns its pid."""
    if (pid := running_pid(settings)) is not None:
        return pid
    settings.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    proc = subprocess.Popen(
        _command(cameras=cameras, host="127.0.0.1", port=settings.camsim_port, stdin_control=False),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    _await_ready(proc, timeout_s=timeout_s)
    # Nobody reads its stdout from now on; it prints nothing more without --stdin-control.
    assert proc.stdout is not None
    proc.stdout.close()
    _pid_file(settings).write_text(f"{proc.pid}\n")
    return proc.pid


def stop_background(settings: RelaySettings, *, timeout_s: float = 5.0) -> bool:
    """Stop the background simulator; False when none was running."""
    pid = running_pid(settings)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _is_simulator(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _is_simulator(pid):
        os.kill(pid, signal.SIGKILL)
    _pid_file(settings).unlink(missing_ok=True)
    return True
