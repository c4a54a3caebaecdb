"""Camera simulator: a GStreamer RTSP server with H.264 test video at /cam1 ... /camN.

Run by the system Python (``/usr/bin/python3``), which has GStreamer's introspection bindings
(``gi``); gilmok's virtual environment does not, so this file imports only ``gi`` and the
standard library, and :mod:`api.relay.camsim` starts it as a separate process.

Usage: ``/usr/bin/python3 camsim_server.py --cameras N [--host 127.0.0.1] [--port 8554]``.
Port 0 picks a free port. Once serving, it prints ``READY <port>`` on stdout. With
``--stdin-control``, lines on stdin control it and end of input stops it: ``down K`` takes
camera K off the air (its path disappears and its running stream stops, as a camera losing
power would), ``up K`` brings it back.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

# Baseline H.264 because Janus does not transcode and browsers decode baseline; a key frame
# every 2 s and parameter sets with every one of them so a viewer joining late starts quickly.
PIPELINE = (
    "( videotestsrc is-live=true pattern={pattern} "
    "! video/x-raw,width=320,height=240,framerate=15/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast bitrate=300 key-int-max=30 "
    "! video/x-h264,profile=baseline "
    "! rtph264pay name=pay0 pt=96 config-interval=1 )"
)


class CameraSimulator:
    """The RTSP server and the per-camera media it serves."""

    def __init__(self, *, cameras: int, host: str, port: int) -> None:
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(host)
        self.server.set_service(str(port))
        self.cameras = cameras
        self.factories: dict[int, GstRtspServer.RTSPMediaFactory] = {}
        self.media: dict[int, list[GstRtspServer.RTSPMedia]] = {}
        for cam in range(1, cameras + 1):
            self.factories[cam] = self._factory(cam)
            self.server.get_mount_points().add_factory(f"/cam{cam}", self.factories[cam])

    def _factory(self, cam: int) -> GstRtspServer.RTSPMediaFactory:
        factory = GstRtspServer.RTSPMediaFactory()
        # Distinct patterns so two cameras' pictures differ; 0..24 are valid patterns.
        factory.set_launch(PIPELINE.format(pattern=(cam - 1) % 19))
        # Shared: one encoder per camera however many clients, as a real camera.
        factory.set_shared(True)
        factory.connect("media-constructed", self._remember, cam)
        return factory

    def _remember(
        self, _factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia, cam: int
    ) -> None:
        self.media.setdefault(cam, []).append(media)

    def down(self, cam: int) -> None:
        """Remove camera ``cam``'s path and stop the stream its clients are receiving."""
        self.server.get_mount_points().remove_factory(f"/cam{cam}")
        for media in self.media.pop(cam, []):
            media.unprepare()

    def up(self, cam: int) -> None:
        """Serve camera ``cam`` again (a new camera if beyond the initial count)."""
        self.factories[cam] = self._factory(cam)
        self.server.get_mount_points().add_factory(f"/cam{cam}", self.factories[cam])

    def command(self, line: str) -> bool:
        """Apply one control line from stdin; False (to stop reading) at end of input."""
        words = line.split()
        if len(words) == 2 and words[0] in {"down", "up"} and words[1].isdigit():
            getattr(self, words[0])(int(words[1]))
            print(f"OK {line.strip()}", flush=True)
        elif words:
            print(f"ERR unknown command {line.strip()!r}", flush=True)
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--stdin-control", action="store_true")
    args = parser.parse_args(argv)
    Gst.init(None)
    sim = CameraSimulator(cameras=args.cameras, host=args.host, port=args.port)
    if sim.server.attach(None) == 0:
        print(f"ERR cannot listen on {args.host}:{args.port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()

    def read_stdin() -> None:
        for line in sys.stdin:
            # GStreamer objects belong to the main loop's thread: hand the command over.
            GLib.idle_add(sim.command, line)
        # Parent closed our stdin (it exited): a simulator nobody controls should not linger.
        GLib.idle_add(loop.quit)

    if args.stdin_control:
        threading.Thread(target=read_stdin, daemon=True).start()
    print(f"READY {sim.server.get_bound_port()}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C in `gilmok camsim run`
        loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
