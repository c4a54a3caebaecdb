"""The web console in Debian's Chromium (Playwright, headless), against a real ``gilmok serve``
on loopback with the real central-Seoul roads and Seoul CCTV.

A regional centre draws an alert-level-2 activation over central Seoul; a situation room clicks
Gwanghwamun and sees the approaches ``GET /v1/approaches`` gives for that point (the same ids,
the same blind ones), requests the best 2 cameras per approach; the owning municipal centre,
signed in beforehand in another browser context, sees the requests appear within a second
without reloading and approves one, which the situation room sees change state. A requester's
session cannot approve, and a state change without the CSRF token, or from another site, is
refused. Screenshots of each role's view are saved under ``out/screenshots/`` (kept by CI).
No browser is downloaded: ``/usr/bin/chromium`` from Debian (scripts/setup.sh).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from real_registry import real_registry_url
from scratch_db import database_env
from sqlalchemy import text

from api.keys import issue_api_key
from api.settings import Settings
from geo.store import connect, orgs

pytest.importorskip("playwright")
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

pytestmark = [pytest.mark.db, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "out" / "screenshots"
GWANGHWAMUN = (126.9769, 37.5759)
VIEWPORT = {"width": 1280, "height": 800}
ACTOR = "test_console"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Console:
    base: str
    keys: dict[str, str]
    centre_name: str
    url: Any
    log: Path

    def api(self, method: str, path: str, who: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, headers=headers, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def console(
    base_settings: Settings, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    """``gilmok serve`` (1 worker) on the real registry, with the pilot's organizations and keys
    for a requester, the regional centre, the owner of Gwanghwamun's best camera and an auditor."""
    subprocess.run([str(ROOT / "scripts" / "build-console")], check=True, cwd=ROOT)
    url = real_registry_url(base_settings.owner_database_url, data_dir)
    engine = connect(url)
    run = uuid.uuid4().hex[:6]
    with engine.begin() as conn:
        orgs.seed_pilot(conn, actor=ACTOR)
        room = f"제1군단 상황실 {run}"
        orgs.create_organization(conn, name=room, kind="military_unit", actor=ACTOR)
        keys = {
            "requester": issue_api_key(conn, organization=room, role="requester", actor=ACTOR)[1],
            "regional": issue_api_key(
                conn, organization=orgs.REGIONAL_CENTRE, role="regional_centre", actor=ACTOR
            )[1],
            "auditor": _auditor(conn, run),
        }
    engine.dispose()
    port = _free_port()
    log = tmp_path_factory.mktemp("console") / "serve.log"
    env = {
        **os.environ,
        **database_env(url, base_settings),
        "GILMOK_RATE_LIMIT": "off",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("GILMOK_RELAY_BACKEND", None)
    command = [sys.executable, "-m", "api.cli", "serve", "--workers", "1", "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5):
                    break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.3)
        probe = Console(base, keys, "", url, log)
        status, answer = probe.api("GET", _approaches_path(*GWANGHWAMUN), "requester")
        assert status == 200, answer
        best = min(
            (
                f["properties"]
                for f in answer["features"]
                if f["properties"]["role"] == "camera" and f["properties"]["online"]
            ),
            key=lambda p: (p["rank"], p["camera_id"]),
        )
        engine = connect(url)
        with engine.begin() as conn:
            centre = conn.execute(
                text(
                    "SELECT o.name FROM camera c JOIN organization o ON o.id = c.owner_id WHERE c.id = :id"
                ),
                {"id": best["camera_id"]},
            ).scalar_one()
            keys["centre"] = issue_api_key(
                conn, organization=centre, role="municipal_centre", actor=ACTOR
            )[1]
        engine.dispose()
        yield Console(base, keys, centre, url, log)
    finally:
        _end_activations(Console(base, keys, "", url, log))
        server.terminate()
        server.wait(timeout=30)


def _auditor(conn: Any, run: str) -> str:
    name = f"감사관실 {run}"
    orgs.create_organization(conn, name=name, kind="admin", actor=ACTOR)
    return issue_api_key(conn, organization=name, role="auditor", actor=ACTOR)[1]


def _end_activations(console: Console) -> None:
    """The shared registry database outlives this module: leave no legal basis of ours in force."""
    status, found = console.api("GET", "/v1/activations?state=active", "regional")
    for item in found.get("items", []) if status == 200 else []:
        if item["reference"].startswith("콘솔 시험"):
            console.api(
                "POST", f"/v1/activations/{item['id']}/end", "regional", {"reason": "test over"}
            )


@contextlib.contextmanager
def _other_site() -> Iterator[str]:
    """A page of another site on loopback: http://localhost:<port>/ (a server of its own)."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>elsewhere</title><p>elsewhere</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _closes_logged(console: Console, incident: int) -> list[str]:
    """Statuses of the POSTs closing ``incident`` in the server's access log, in order."""
    time.sleep(0.3)  # the access log line follows the answer
    pattern = re.compile(rf'"POST /v1/incidents/{incident}/close HTTP/1.1" (\d+)')
    return pattern.findall(console.log.read_text(errors="replace"))


def _approaches_path(lon: float, lat: float) -> str:
    return f"/v1/approaches?lon={lon}&lat={lat}&radius_m=500&mode=network&direction=inbound&travel=drive&level=observe"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def _context(browser: Browser) -> BrowserContext:
    return browser.new_context(viewport=VIEWPORT, locale="ko-KR", timezone_id="Asia/Seoul")


def _sign_in(page: Page, console: Console, who: str) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(console.base + "/")
    page.fill("#api-key", console.keys[who])
    page.click("form.signin button[type=submit]")
    expect(page.locator("header .org-name")).to_be_visible()
    problems.clear()  # the 401 of the session check before signing in is how it starts
    page.context.set_extra_http_headers({})
    page.problems = problems  # type: ignore[attr-defined]
    # nothing of the key stays in the browser's storage
    stored = page.evaluate(
        "() => JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage}) + document.cookie"
    )
    assert console.keys[who] not in stored


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def _map_ready(page: Page) -> None:
    expect(page.locator("#map[data-ready=yes]")).to_have_count(1, timeout=20_000)
    # the road tiles in view arrived and were drawn
    expect(page.locator("#map[data-roads=loaded]")).to_have_count(1, timeout=20_000)


def test_the_roles_work_the_scenario_in_the_browser(browser: Browser, console: Console) -> None:
    # -- the regional centre draws an alert-level-2 activation over central Seoul
    regional = _context(browser).new_page()
    _sign_in(regional, console, "regional")
    _map_ready(regional)
    box = regional.locator("#map").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-160, -160), (160, -160), (160, 160), (-160, 160)):
        regional.mouse.click(cx + dx, cy + dy)
    regional.fill("#reference", f"콘솔 시험 {uuid.uuid4().hex[:6]}")
    regional.select_option("#basis", "alert_level_2")
    regional.click("#create-activation")
    expect(regional.locator("#activations tr[data-state=active]")).not_to_have_count(0)
    status, found = console.api("GET", "/v1/activations?state=active", "regional")
    assert status == 200
    assert any(a["basis"]["code"] == "alert_level_2" for a in found["items"])
    regional.wait_for_timeout(800)  # tiles settle for the picture
    _shot(regional, "regional-activations")
    assert regional.problems == []  # type: ignore[attr-defined]

    # -- the owning municipal centre is watching its queue before anything is asked of it
    centre = _context(browser).new_page()
    _sign_in(centre, console, "centre")
    expect(centre.locator("header .live-status[data-live=yes]")).to_have_count(1, timeout=10_000)
    before = {
        int(x)
        for x in centre.locator("#queue li[data-request-id]").evaluate_all(
            "els => els.map(e => e.dataset.requestId)"
        )
    }

    # -- the situation room clicks Gwanghwamun: the map opens centred there
    room = _context(browser).new_page()
    _sign_in(room, console, "requester")
    _map_ready(room)
    box = room.locator("#map").bounding_box()
    assert box is not None
    room.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    lon = float(room.input_value("#incident-lon"))
    lat = float(room.input_value("#incident-lat"))
    assert abs(lon - GWANGHWAMUN[0]) < 1e-4
    assert abs(lat - GWANGHWAMUN[1]) < 1e-4
    status, answer = console.api("GET", _approaches_path(lon, lat), "requester")
    assert status == 200
    truth = {
        f["properties"]["id"]: f["properties"]
        for f in answer["features"]
        if f["properties"]["role"] == "approach"
    }
    room.click("#raise-incident")
    listed = room.locator("#approach-list > li")
    expect(listed).to_have_count(len(truth), timeout=15_000)
    shown = {
        row["id"]: row
        for row in listed.evaluate_all(
            "els => els.map(e => ({id: e.dataset.approachId, blind: e.dataset.blind === 'yes', main: e.dataset.main === 'yes'}))"
        )
    }
    assert set(shown) == set(truth)
    assert {i for i, r in shown.items() if r["blind"]} == {
        i for i, p in truth.items() if p["blind"]
    }
    assert {i for i, r in shown.items() if r["main"]} == {i for i, p in truth.items() if p["main"]}
    # main approaches first; every blind one is labelled 사각 on the map itself
    order = [row["id"] for row in shown.values()]
    mains = [truth[i]["main"] for i in order]
    assert mains == sorted(mains, reverse=True)
    blind_labels = room.locator(".approach-label[data-blind=yes]")
    expect(blind_labels).to_have_count(sum(1 for p in truth.values() if p["blind"]))
    assert all("사각" in t for t in blind_labels.all_inner_texts())
    summary = room.locator("#approach-summary").inner_text()
    assert f"{len(truth)}" in summary

    # -- it asks for the best 2 cameras per approach
    room.fill("#best-k", "2")
    # when each request first shows in the centre's queue, by the browser's clock
    centre.evaluate(
        """() => { window.queueSeen = {}; new MutationObserver(() => {
            for (const li of document.querySelectorAll('#queue li[data-request-id]'))
                window.queueSeen[li.dataset.requestId] ??= Date.now();
        }).observe(document.body, {subtree: true, childList: true}); }"""
    )
    clicked_at = room.evaluate("() => Date.now()")
    room.click("#request-best")
    expect(room.locator("#feed-requests li")).not_to_have_count(0, timeout=10_000)
    incident_id = int(room.locator(".incident-summary").get_attribute("data-incident-id") or 0)
    status, pending = console.api("GET", "/v1/feed-requests?state=pending", "centre")
    assert status == 200
    mine = {r["id"] for r in pending["items"] if r["incident_id"] == incident_id}
    assert mine, "the best camera's owner has requests to decide"

    # -- the centre sees them within a second of the click, without reloading
    for request_id in mine - before:
        centre.locator(f"#queue li[data-request-id='{request_id}']").wait_for(timeout=5000)
    seen = centre.evaluate("() => window.queueSeen")
    seen_after = max(seen[str(i)] for i in mine - before) - clicked_at
    assert seen_after < 1000, f"the queue showed the requests {seen_after} ms after the click"
    centre.wait_for_timeout(1500)  # mini maps draw their tiles for the picture
    item = centre.locator(f"#queue li[data-request-id='{min(mine)}']")
    expect(item.locator(".basis")).to_have_text("경계태세 2급 이상")
    _shot(centre, "centre-queue")
    item.locator("button.approve").click()
    expect(centre.locator(f"#queue li[data-request-id='{min(mine)}']")).to_have_count(0)
    status, decided = console.api("GET", f"/v1/feed-requests/{min(mine)}", "centre")
    assert status == 200
    assert decided["status"] in ("approved", "provisioned", "failed")
    # ... and the situation room sees its request change state without reloading
    expect(room.locator(f"#feed-requests li[data-request-id='{min(mine)}']")).not_to_have_attribute(
        "data-state", "pending", timeout=2000
    )
    room.wait_for_timeout(500)
    _shot(room, "requester-incident")
    assert room.problems == []  # type: ignore[attr-defined]
    assert centre.problems == []  # type: ignore[attr-defined]

    # -- the auditor sees the trail and a verified chain
    auditor = _context(browser).new_page()
    _sign_in(auditor, console, "auditor")
    expect(auditor.locator("#audit-rows tr[data-audit-id]")).not_to_have_count(0)
    auditor.click("#verify-chain")
    expect(auditor.locator("#verify-result[data-ok=yes]")).to_have_count(1, timeout=20_000)
    auditor.fill("#f-subject-type", "feed_request")
    auditor.click("#audit-filters button[type=submit]")
    expect(auditor.locator("#audit-rows td.subject").first).to_contain_text("feed_request")
    subjects = auditor.locator("#audit-rows td.subject").all_inner_texts()
    assert all(s.startswith("feed_request ") for s in subjects), subjects
    _shot(auditor, "auditor-trail")


def test_a_requester_session_cannot_approve_and_cross_site_posts_are_refused(
    browser: Browser, console: Console
) -> None:
    status, raised = console.api(
        "POST", "/v1/incidents", "requester", {"lon": GWANGHWAMUN[0], "lat": GWANGHWAMUN[1]}
    )
    assert status == 201, raised
    incident = raised["id"]
    room = _context(browser).new_page()
    _sign_in(room, console, "requester")
    # Korean by default, English by the switch, and back
    expect(room.locator("button.sign-out")).to_have_text("로그아웃")
    room.click("button.lang")
    expect(room.locator("button.sign-out")).to_have_text("Sign out")
    expect(room.locator("#raise-incident")).to_have_text("Raise incident")
    room.click("button.lang")
    expect(room.locator("#raise-incident")).to_have_text("사건 등록")
    token = room.evaluate("async () => (await (await fetch('/v1/session')).json()).csrf_token")
    assert token
    # an approver's action with the requester's session and its CSRF token: 403
    status = room.evaluate(
        "async (t) => (await fetch('/v1/feed-requests/1/approve', {method: 'POST', headers: {'X-CSRF-Token': t, 'Content-Type': 'application/json'}, body: '{}'})).status",
        token,
    )
    assert status == 403
    # a state change from the console's own origin without the token: refused, nothing closed
    status = room.evaluate(
        f"async () => (await fetch('/v1/incidents/{incident}/close', {{method: 'POST', headers: {{'Content-Type': 'application/json'}}, body: '{{}}'}})).status"
    )
    assert status in (401, 403)
    # another site (localhost is not 127.0.0.1's site) posting to the API in the same browser:
    # the request reaches the server, but the SameSite=Strict cookie stays home: refused
    with _other_site() as other:
        evil = room.context.new_page()
        evil.goto(other)
        closes_before = _closes_logged(console, incident)
        sent = evil.evaluate(
            f"""async () => {{
                try {{
                    await fetch('{console.base}/v1/incidents/{incident}/close', {{method: 'POST',
                        credentials: 'include', mode: 'no-cors', headers: {{'Content-Type': 'text/plain'}},
                        body: '{{}}'}});
                    return true;
                }} catch (e) {{ return String(e); }}
            }}"""
        )
        assert sent is True, sent
    assert _closes_logged(console, incident) == [*closes_before, "401"]
    status, after = console.api("GET", f"/v1/incidents/{incident}", "requester")
    assert status == 200
    assert after["status"] == "open"
    status, _ = console.api("POST", f"/v1/incidents/{incident}/close", "requester", {})
    assert status == 200


def test_the_page_is_served_under_a_strict_policy(console: Console) -> None:
    with urllib.request.urlopen(console.base + "/", timeout=30) as r:
        policy = r.headers["Content-Security-Policy"]
        page = r.read().decode()
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    assert "<script>" not in page
    assert " style=" not in page


def test_without_a_bundle_the_page_says_how_to_build_it(
    base_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.console
    from api import create_app

    monkeypatch.setattr(api.console, "STATIC_DIR", tmp_path)
    client = create_app(base_settings).test_client()
    page = client.get("/")
    assert page.status_code == 503
    assert "scripts/build-console" in page.get_data(as_text=True)
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    # and the bundle's folder gives out nothing else
    (tmp_path / "manifest.json").write_text('{"js": "a.js", "css": "a.css", "worker": "w.mjs"}')
    assert client.get("/").status_code == 200
    assert client.get("/console/assets/../__init__.py").status_code == 404
    assert client.get("/console/assets/manifest.json").status_code == 200
    relay = base_settings.relay
    assert (
        f"connect-src 'self' http://{relay.host}:{relay.port}"
        in page.headers["Content-Security-Policy"]
    )


def test_the_console_works_for_a_browser_that_takes_no_compression(
    browser: Browser, console: Console
) -> None:
    """A client that accepts no content coding gets the bundle's files as they are, and the
    console works with them: signed in, the map ready with its roads. (Chromium always offers
    brotli and gzip, so the files are fetched here by Playwright's own HTTP client with
    ``Accept-Encoding: identity`` and handed to the page; the other tests get the brotli copies.)"""
    answered: list[tuple[str, str | None, int]] = []

    def uncompressed(route: Any) -> None:
        headers = {**route.request.headers, "accept-encoding": "identity"}
        response = route.fetch(headers=headers)
        answered.append(
            (route.request.url, response.headers.get("content-encoding"), len(response.body()))
        )
        route.fulfill(response=response)

    context = _context(browser)
    context.route("**/console/assets/**", uncompressed)
    try:
        page = context.new_page()
        _sign_in(page, console, "requester")
        page.reload()  # the page again, carrying the session this time
        _map_ready(page)
        assert page.problems == []  # type: ignore[attr-defined]
    finally:
        context.close()
    names = {url.rsplit("/", 1)[1] for url, _, _ in answered}
    manifest = json.loads((ROOT / "api" / "console" / "static" / "manifest.json").read_text())
    assert {manifest["js"], manifest["css"], manifest["worker"]} <= names
    for url, coding, size in answered:
        assert coding is None, url
        name = url.rsplit("/", 1)[1]
        assert size == (ROOT / "api" / "console" / "static" / name).stat().st_size
