"""A network namespace of the test's own, where Chromium and Janus can talk WebRTC on one machine.

Janus gathers no ICE candidate on loopback, so a browser and a relay on the same machine cannot
agree on a media path through 127.0.0.1. Inside a fresh network namespace holding ``lo`` and a
veth pair whose two ends both stay inside (each with an address on one private /24), Janus and
Chromium find host candidates on the veth addresses, and nothing they send can leave the machine:
the namespace has no route out, and no link to the host's namespace.

Processes are put inside by starting them from a thread that has entered the namespace
(:meth:`NetworkNamespace.inside`): a child inherits the network namespace of the thread that
forks it, and a socket keeps the namespace it was made in. The test process itself reaches the
services inside the same way (its HTTP requests are made from inside); PostgreSQL stays outside
and is reached through its unix socket, since the filesystem is shared.

The namespace is named ``gilmok-t<pid>-<random>``; :meth:`NetworkNamespace.remove` deletes it
(even after a failure, from a ``finally`` or a fixture's teardown), and :func:`remove_stale`
deletes those left by a test process that was killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import re
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
PREFIX = "gilmok-t"
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def remove_stale() -> list[str]:
    """Delete the namespaces of earlier test processes that are gone; their names."""
    removed = []
    for path in NETNS_DIR.glob(f"{PREFIX}*") if NETNS_DIR.is_dir() else ():
        m = re.fullmatch(rf"{PREFIX}(\d+)-[0-9a-f]+", path.name)
        if m and not Path(f"/proc/{m.group(1)}").exists():
            # What the dead test process left running inside goes first (a server, a browser).
            left = subprocess.run(
                ["ip", "netns", "pids", path.name], capture_output=True, text=True, check=False
            )
            for pid in left.stdout.split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", path.name], capture_output=True, check=False)
            removed.append(path.name)
    return removed


class NetworkNamespace:
    """A named network namespace with ``lo`` up and a veth pair, both ends inside.

    Attributes
    ----------
    name
        The namespace's name (``ip netns list``).
    addresses
        The two veth ends' addresses (one /24 in 10.213.0.0/16, chosen at random).
    """

    def __init__(self) -> None:
        self.name = f"{PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
        third = random.randrange(1, 255)
        self.addresses = (f"10.213.{third}.1", f"10.213.{third}.2")
        self._fd: int | None = None

    def create(self) -> NetworkNamespace:
        """Make the namespace and its links; on any failure, nothing is left behind."""
        remove_stale()
        _ip("netns", "add", self.name)
        try:
            _ip("-n", self.name, "link", "set", "lo", "up")
            _ip("-n", self.name, "link", "add", "gk0", "type", "veth", "peer", "name", "gk1")
            for dev, address in zip(("gk0", "gk1"), self.addresses, strict=True):
                _ip("-n", self.name, "addr", "add", f"{address}/24", "dev", dev)
                _ip("-n", self.name, "link", "set", dev, "up")
            self._fd = os.open(NETNS_DIR / self.name, os.O_RDONLY | os.O_CLOEXEC)
        except BaseException:
            self.remove()
            raise
        return self

    @contextlib.contextmanager
    def inside(self) -> Iterator[None]:
        """Run the block's network calls, and the processes it starts, inside the namespace.

        Only the calling thread enters; it is back in its own namespace when the block ends.
        """
        if self._fd is None:
            raise RuntimeError(f"network namespace {self.name} is not created")
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(self._fd)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(home)

    def pids(self) -> list[int]:
        """Processes whose network namespace is this one."""
        done = subprocess.run(
            ["ip", "netns", "pids", self.name], capture_output=True, text=True, check=False
        )
        return [int(p) for p in done.stdout.split()]

    def remove(self) -> None:
        """Delete the namespace (idempotent). Processes still inside keep their own copy of it
        until they exit; kill them first (:meth:`pids`)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if (NETNS_DIR / self.name).exists():
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)

    def exists(self) -> bool:
        return (NETNS_DIR / self.name).exists()

    def __enter__(self) -> NetworkNamespace:
        return self.create()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()
