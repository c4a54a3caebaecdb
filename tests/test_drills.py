"""Drills on the real data: precomputed on 2 Dask workers, interrupted and resumed with nothing
computed twice, exported and read back, served by the API; the GeoPackage round trip."""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from real_registry import cctv_sites_on_roads, real_registry_url
from scratch_db import database_env
from sqlalchemy import text
from sqlalchemy.engine import URL, Engine

from api import create_app
from api.cli import main
from api.keys import issue_api_key
from api.settings import Settings, load_settings
from geo.cordon import CordonOptions
from geo.crs import xy_to_lonlat
from geo.drill_cluster import dask_client, precompute
from geo.drill_records import record_rows, rounded
from geo.drills import (
    BatchResults,
    DrillOptions,
    batches,
    run_batch,
    run_scenario,
)
from geo.errors import InvalidInput
from geo.gpkg import load_registry_gpkg, read_scenario_points
from geo.incident import answer_incident
from geo.store import connect, orgs
from geo.store import drills as store
from geo.store.export import export_geopackage
from geo.store.snapshot import load_snapshot

pytestmark = [pytest.mark.db, pytest.mark.slow]

GWANGHWAMUN = (126.9769, 37.5759)
GANGNAM_STATION = (127.0276, 37.4979)  # outside the central-Seoul road data


@pytest.fixture(scope="module")
def registry_url(base_settings: Settings, data_dir: Path) -> URL:
    return real_registry_url(base_settings.owner_database_url, data_dir)


@pytest.fixture(scope="module")
def engine(registry_url: URL):  # type: ignore[no-untyped-def]
    eng = connect(registry_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def snapshot(engine: Engine, base_settings: Settings):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return load_snapshot(
            conn, crs=base_settings.working_crs, max_range_m=base_settings.max_coverage_range_m
        )


@pytest.fixture(scope="module")
def gpkg(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "registry.gpkg"
    with engine.connect() as conn:
        export_geopackage(conn, path)
    return path


@pytest.fixture(scope="module")
def scenario_csv(registry_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Path:
    sites = cctv_sites_on_roads(registry_url, every=16)
    sites.append(("gangnam-station", *GANGNAM_STATION))
    path = tmp_path_factory.mktemp("scenarios") / "seoul_sites.csv"
    pd.DataFrame(sites, columns=["name", "lon", "lat"]).to_csv(path, index=False)
    return path


def _env(url: URL) -> dict[str, str]:
    return database_env(url, load_settings())


def test_geopackage_round_trip_gives_the_postgis_snapshot(
    snapshot, gpkg: Path, base_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    layers = pyogrio.list_layers(gpkg)[:, 0].tolist()
    assert layers == ["road_network", "road_segment", "camera", "coverage", "import_batch",
                      "layer_styles"]  # fmt: skip
    cameras = pyogrio.read_dataframe(gpkg, layer="camera")
    assert "source_url" not in cameras.columns
    assert str(cameras.crs).endswith("5179")
    loaded = load_registry_gpkg(gpkg, max_range_m=base_settings.max_coverage_range_m)
    assert loaded.counts == snapshot.counts
    a, b = snapshot.networks[0].roads, loaded.networks[0].roads
    for name in ("seg_u", "seg_v", "seg_oneway", "seg_main", "seg_way", "node_id"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.allclose(a.seg_length, b.seg_length)
    assert np.array_equal(snapshot.index.camera_id, loaded.index.camera_id)
    assert a.seg_oneway.sum() < a.n_segments  # two-way streets survive both paths
    answers = [
        answer_incident(s.networks[0].roads, s.index, GWANGHWAMUN, CordonOptions(radius_m=500))
        for s in (snapshot, loaded)
    ]
    assert answers[0].to_geojson() == answers[1].to_geojson()


def test_scenario_files_read_alike(tmp_path: Path, scenario_csv: Path) -> None:
    points = read_scenario_points(scenario_csv)
    assert points.columns.tolist() == ["name", "lon", "lat"]
    geo = tmp_path / "points.geojson"
    import geopandas as gpd

    gpd.GeoDataFrame(
        points, geometry=gpd.points_from_xy(points.lon, points.lat), crs="EPSG:4326"
    ).to_crs("EPSG:5179").to_file(tmp_path / "points.gpkg")
    gpd.GeoDataFrame(
        points, geometry=gpd.points_from_xy(points.lon, points.lat), crs="EPSG:4326"
    ).to_file(geo)
    for path in (geo, tmp_path / "points.gpkg"):
        other = read_scenario_points(path)
        assert other["name"].tolist() == points["name"].tolist()
        assert np.allclose(other[["lon", "lat"]], points[["lon", "lat"]], atol=1e-7)


def _record_element_by_element(answer: Any, best: int) -> list[dict[str, Any]]:
    """The oracle: the drill record as first built, one numpy element at a time."""
    a, w = answer.cordon.approaches, answer.watchers
    a_lon, a_lat = xy_to_lonlat(a.x, a.y, crs=answer.network.crs)

    def num(value: Any) -> float | None:
        return round(float(value), 1) if np.isfinite(value) else None

    cameras: list[list[dict[str, Any]]] = [[] for _ in range(len(a))]
    for i in np.flatnonzero(w.rank <= best):
        cameras[int(w.approach[i])].append(
            {"camera_id": int(w.camera_id[i]), "rank": int(w.rank[i]),
             "dori_level": str(w.level[i]), "px_per_m": num(w.px_per_m[i]),
             "facing": bool(w.facing[i]), "distance_m": num(w.distance_m[i]),
             "online": bool(w.online[i]), "confidence": str(w.confidence[i])}
        )  # fmt: skip
    return [
        {"seq": j + 1, "id": f"A{j + 1}", "direction": str(a.direction[j]),
         "road_name": str(a.name[j]), "ref": str(a.ref[j]), "highway": str(a.highway[j]),
         "main": bool(a.main[j]), "bearing_deg": num(a.bearing_deg[j]),
         "blind": bool(w.blind[j]), "lon": round(float(a_lon[j]), 7),
         "lat": round(float(a_lat[j]), 7), "cameras": cameras[j]}
        for j in range(len(a))
    ]  # fmt: skip


def test_run_batch_is_compact_and_names_failures(snapshot, scenario_csv: Path) -> None:  # type: ignore[no-untyped-def]
    options = DrillOptions(cordon=CordonOptions(radius_m=500), best=2)
    batch = run_batch(snapshot, [(1, *GWANGHWAMUN), (2, *GANGNAM_STATION)], options.as_dict())
    assert len(batch) == 2
    assert batch.id == [1, 2]
    assert batch.status == ["done", "failed"]
    stored = json.loads(batch.result_json[0])  # JSON text, ready to store, in columns
    assert set(stored) == {"approaches", "cameras"}
    done = record_rows(stored)
    assert batch.approaches[0] == len(done) > 0
    assert batch.blind[0] == sum(a["blind"] for a in done)
    assert all(len(a["cameras"]) <= 2 for a in done)
    yulgok = [a for a in done if a["road_name"] == "율곡로" and a["main"]]
    assert yulgok
    assert all(a["blind"] for a in yulgok)
    assert (batch.result_json[1], batch.approaches[1]) == (None, None)
    assert "outside the loaded road data" in batch.error[1]
    one = run_scenario(snapshot, *GANGNAM_STATION, options)
    assert (one["status"], one["error"]) == ("failed", batch.error[1])

    # the records, built column by column for the whole batch, are those built one numpy
    # element at a time from each scenario's own answer, and those of run_scenario
    points = read_scenario_points(scenario_csv)
    rows = list(zip(range(len(points)), points["lon"], points["lat"], strict=True))
    options = DrillOptions(cordon=CordonOptions(radius_m=500))
    batch = run_batch(snapshot, rows, options.as_dict())
    compared = 0
    for k, (_, lon, lat) in enumerate(rows):
        single = run_scenario(snapshot, lon, lat, options)
        assert single["status"] == batch.status[k]
        if batch.status[k] != "done":
            continue
        answer = answer_incident(snapshot.network_for(lon, lat).roads, snapshot.index, (lon, lat), CordonOptions(radius_m=500))  # fmt: skip
        expected = _record_element_by_element(answer, options.best)
        assert record_rows(json.loads(batch.result_json[k])) == expected == single["result"]
        assert len(batch.result_json[k] or "") < len(json.dumps(expected, ensure_ascii=False))
        assert batch.incomplete[k] == single["incomplete"] == answer.cordon.incomplete
        compared += bool(expected)
    assert compared > 30
    assert any(a["cameras"] for r in batch.result_json if r for a in record_rows(json.loads(r)))


def test_rounded_gives_pythons_round_to_the_same_floats() -> None:
    # the records' numbers are rounded a batch column at a time; they must be the floats
    # round() gave one value at a time, ties and near-ties included (0.05 is a hair above
    # 0.05 and rounds up; 0.05 * 10 is exactly 0.5 in floats and rint takes it down)
    rng = np.random.default_rng(3)
    values = np.concatenate([
        rng.uniform(-400, 400, 100_000), rng.uniform(124, 132, 50_000),
        np.arange(-2000, 2000) / 20, (np.arange(50_000) + 0.5) / 10,
        126 + (np.arange(50_000) + 0.5) / 1e7, 37 + (np.arange(50_000) + 0.5) / 1e7,
        [0.0, -0.0, 1e300, -1e300, 5e-324, np.nan, np.inf, -np.inf],
    ])  # fmt: skip
    for digits in (1, 7):
        expected = [repr(round(v, digits)) for v in values.tolist()]
        assert [repr(v) for v in rounded(values, digits)] == expected
    finite = rounded(values[-8:], 1, finite=True)
    assert finite == [0.0, -0.0, 1e300, -1e300, 0.0, None, None, None]


def test_precompute_interrupted_then_resumed_computes_each_scenario_once(
    engine: Engine,
    registry_url: URL,
    scenario_csv: Path,
    snapshot,
    tmp_path: Path,
    base_settings: Settings,
) -> None:  # type: ignore[no-untyped-def]
    points = read_scenario_points(scenario_csv)
    assert 45 <= len(points) <= 60
    options = DrillOptions(cordon=CordonOptions(radius_m=500))
    with engine.begin() as conn:
        drill_id, created = store.ensure_drill(
            conn, "seoul_sites", options=options.as_dict(), source_file=scenario_csv.name
        )
        assert created
        store.add_scenarios(conn, drill_id, points["name"], points["lon"], points["lat"])
        pending = store.pending_scenarios(conn, drill_id)
    saved_batches: list[int] = []

    class Stop(KeyboardInterrupt):
        pass

    def save(results: BatchResults) -> None:
        if saved_batches:
            raise Stop  # Ctrl-C after the first batch is committed
        with engine.begin() as conn:
            saved_batches.append(store.save_results(conn, drill_id, results))

    todo = batches(pending["id"], pending["lon"], pending["lat"], 10)
    out = tmp_path / "seoul_sites.gpkg"
    with dask_client(workers=2) as client:
        with pytest.raises(Stop):
            precompute(client, snapshot, todo, options, save=save)
        assert saved_batches == [10]
        with engine.connect() as conn:
            first = dict(
                conn.execute(
                    text(
                        "SELECT id, computed_at FROM drill_scenario"
                        " WHERE drill_id = :d AND status <> 'pending'"
                    ),
                    {"d": drill_id},
                ).all()
            )
        assert len(first) == 10
        # resumed from the command line, on the same cluster (--scheduler)
        result = CliRunner().invoke(
            main,
            ["drills", "precompute", str(scenario_csv), "--radius", "500",
             "--scheduler", client.scheduler.address, "--batch-size", "20", "--out", str(out)],
            env=_env(registry_url),
        )  # fmt: skip
        # the workers loaded the registry from the database for the command, and let it go
        held = client.run(lambda dask_worker: [n for n in dask_worker.plugins if "registry" in n])
    assert result.exit_code == 0, result.output
    assert list(held.values()) == [[], []]
    assert f"existing): {len(points)} scenarios in seoul_sites.csv, 0 added;" in result.output
    assert f"{len(points) - 10} to compute" in result.output
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, status, computed_at FROM drill_scenario WHERE drill_id = :d"),
            {"d": drill_id},
        ).all()
        info = store.get_drill(conn, "seoul_sites")
    assert all(r.computed_at is not None for r in rows)
    assert {r.id: r.computed_at for r in rows if r.id in first} == first  # not computed again
    assert [r.status for r in rows].count("failed") == 1  # Gangnam station: outside the data
    assert (info.done, info.failed, info.pending) == (len(points) - 1, 1, 0)
    assert info.approaches > 3 * info.done
    assert 0 < info.blind < info.approaches
    assert info.cameras > 0
    summary = (
        f"drill seoul_sites: {len(points)} scenarios ({len(points) - 1} done, 1 failed,"
        f" 0 pending), {info.approaches} approaches, {info.blind} blind, {info.cameras} cameras"
    )
    assert summary in result.output

    # a third run finds nothing to do
    again = CliRunner().invoke(
        main, ["drills", "precompute", str(scenario_csv), "--radius", "500"], env=_env(registry_url)
    )
    assert again.exit_code == 0, again.output
    assert "0 to compute" in again.output
    # other options under the same name are refused, naming the conflict
    other = CliRunner().invoke(
        main, ["drills", "precompute", str(scenario_csv), "--radius", "300"], env=_env(registry_url)
    )
    assert other.exit_code == 1
    assert "exists with other options" in other.output

    # exports read back with the stored numbers
    scen = pyogrio.read_dataframe(out, layer="scenario")
    appr = pyogrio.read_dataframe(out, layer="approach")
    assert len(scen) == len(points)
    assert len(appr) == info.approaches
    assert int(appr["blind"].sum()) == info.blind
    for suffix in ("csv", "geojson"):
        path = tmp_path / f"drill.{suffix}"
        exported = CliRunner().invoke(
            main, ["drills", "export", "seoul_sites", str(path)], env=_env(registry_url)
        )
        assert exported.exit_code == 0, exported.output
        if suffix == "csv":
            table = pd.read_csv(path)
            assert table["approach"].notna().sum() == info.approaches
            assert table["scenario"].nunique() == len(points)
        else:
            features = json.loads(path.read_text())["features"]
            assert len(features) == info.approaches
            assert sum(f["properties"]["blind"] for f in features) == info.blind

    # the API returns the stored sets
    with engine.begin() as conn:
        org = orgs.create_organization(conn, name="훈련 설계반", kind="planner", actor="test")
        _, key = issue_api_key(conn, organization=org.name, role="planner", actor="test")
        _, auditor = issue_api_key(conn, organization=org.name, role="auditor", actor="test")
    # the app logs in as the service, as `gilmok serve` does
    service_url = base_settings.database_url.set(database=registry_url.database)
    service = connect(service_url)
    app = create_app(base_settings.with_overrides(database_url=service_url), engine=service)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    page = client.get("/v1/drills/seoul_sites?limit=20", headers=headers)
    assert page.status_code == 200, page.json
    body = page.json
    assert (body["scenarios"], body["blind"], body["cameras"]) == (
        len(points),
        info.blind,
        info.cameras,
    )
    assert body["options"]["radius_m"] == 500
    assert len(body["items"]) == 20
    rest = client.get(
        f"/v1/drills/seoul_sites?after_id={body['next_after_id']}&limit=500", headers=headers
    ).json
    assert len(rest["items"]) == len(points) - 20
    assert rest["next_after_id"] is None
    done = next(s for s in body["items"] if s["status"] == "done" and s["approaches"])
    one = client.get(f"/v1/drills/seoul_sites/scenarios/{done['id']}", headers=headers)
    assert one.status_code == 200
    with engine.connect() as conn:
        stored = store.get_scenario(conn, drill_id, done["id"])
    assert one.json["result"] == stored.result
    assert stored.result == _record_element_by_element(
        answer_incident(snapshot.networks[0].roads, snapshot.index, (stored.lon, stored.lat), CordonOptions(radius_m=500)),
        options.best,
    )  # fmt: skip
    assert one.json["name"] == stored.name
    assert "source_url" not in json.dumps(one.json)
    # a record stored as rows, before records were stored in columns, reads the same
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE drill_scenario SET result = CAST(:rows AS jsonb) WHERE id = :id"),
            {"rows": json.dumps(stored.result), "id": stored.id},
        )
        assert store.get_scenario(conn, drill_id, stored.id).result == stored.result
        assert store.get_drill(conn, "seoul_sites").cameras == info.cameras
    again = client.get(f"/v1/drills/seoul_sites/scenarios/{done['id']}", headers=headers)
    assert again.json["result"] == one.json["result"]
    missing = client.get("/v1/drills/nothing", headers=headers)
    assert missing.status_code == 404
    assert missing.json["code"] == "not_found"
    no_such = client.get("/v1/drills/seoul_sites/scenarios/999999999", headers=headers)
    assert no_such.status_code == 404
    forbidden = client.get("/v1/drills/seoul_sites", headers={"Authorization": f"Bearer {auditor}"})
    assert forbidden.status_code == 403
    service.dispose()


def test_batches_stored_by_the_workers_are_all_in_once_precompute_stops(
    engine: Engine, registry_url: URL, scenario_csv: Path, snapshot
) -> None:  # type: ignore[no-untyped-def]
    points = read_scenario_points(scenario_csv)
    options = DrillOptions(cordon=CordonOptions(radius_m=500))
    with engine.begin() as conn:
        drill_id, _ = store.ensure_drill(conn, "stored_on_workers", options=options.as_dict())
        store.add_scenarios(conn, drill_id, points["name"], points["lon"], points["lat"])
        pending = store.pending_scenarios(conn, drill_id)
    saver = store.BatchSaver(registry_url, drill_id)

    def slow_saver(results: BatchResults) -> tuple[int, int]:
        time.sleep(0.5)  # the other worker's batch is still being stored when Ctrl-C comes
        return saver(results)

    class Stop(KeyboardInterrupt):
        pass

    came_back: list[tuple[int, int]] = []

    def save(counts: tuple[int, int]) -> None:
        came_back.append(counts)
        raise Stop  # Ctrl-C once the first batch is stored

    def stored() -> dict[int, Any]:
        with engine.connect() as conn:
            return dict(
                conn.execute(
                    text(
                        "SELECT id, computed_at FROM drill_scenario WHERE drill_id = :d"
                        " AND status <> 'pending'"
                    ),
                    {"d": drill_id},
                ).all()
            )

    todo = batches(pending["id"], pending["lon"], pending["lat"], 5)
    with dask_client(workers=2) as client:
        with pytest.raises(Stop):
            precompute(client, snapshot, todo, options, on_worker=slow_saver, save=save)
        right_after = stored()
        time.sleep(1.5)  # a batch stored after precompute returned would show now
        assert stored() == right_after
    assert came_back == [(5, 5)]
    # the batch that came back, and those the workers were running then, whole; nothing
    # half-written (on a busy machine a worker may start its next batch before the cancel
    # reaches it: that batch is then waited for and stored whole too)
    assert len(right_after) >= 5
    assert len(right_after) % 5 == 0
    with engine.connect() as conn:
        partial = conn.execute(
            text(
                "SELECT count(*) FROM drill_scenario WHERE drill_id = :d"
                " AND ((status = 'pending') <> (computed_at IS NULL)"
                " OR (status = 'done') <> (result IS NOT NULL))"
            ),
            {"d": drill_id},
        ).scalar_one()
        # records of more than ~2 KB are compressed in their row: with lz4, where the server
        # has it, not pglz (a third of PostgreSQL's CPU in a save)
        methods = (
            conn.execute(
                text(
                    "SELECT DISTINCT pg_column_compression(result) FROM drill_scenario"
                    " WHERE drill_id = :d AND length(result::text) > 3000"
                ),
                {"d": drill_id},
            )
            .scalars()
            .all()
        )
        lz4 = conn.execute(
            text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings"
                " WHERE name = 'default_toast_compression'"
            )
        ).scalar_one()
    assert partial == 0
    assert set(methods) == {"lz4" if lz4 else "pglz"}


def test_drill_sites_are_every_nth_real_site_inside_the_roads(
    engine: Engine, registry_url: URL, tmp_path: Path
) -> None:
    # the oracle: the fixture's own query, every 16th site 600 m or more inside the extent
    expected = cctv_sites_on_roads(registry_url, every=16)
    with engine.connect() as conn:
        sites = store.cctv_sites(conn, every=16, inset_m=600)
        assert len(store.cctv_sites(conn, every=1)) > 1000  # the central-Seoul sites
        assert store.cctv_sites(conn, every=1, file_name="elsewhere.csv").empty
        with pytest.raises(InvalidInput):
            store.cctv_sites(conn, every=0)
    assert sites["name"].tolist() == [name for name, _, _ in expected]
    assert np.allclose(sites[["lon", "lat"]], [(x, y) for _, x, y in expected], atol=1e-7)

    out = tmp_path / "sites.csv"
    args = ["drills", "sites", str(out), "--every", "16", "--limit", "20", "--inset", "600",
            "--file", "seoul_cctv_2018.csv"]  # fmt: skip
    result = CliRunner().invoke(main, args, env=_env(registry_url))
    assert result.exit_code == 0, result.output
    assert "20 scenario points (1 site in 16 of seoul_cctv_2018.csv" in result.output
    first = out.read_bytes()
    assert read_scenario_points(out)["name"].tolist() == sites["name"].tolist()[:20]
    CliRunner().invoke(main, args, env=_env(registry_url))
    assert out.read_bytes() == first  # deterministic
    wrong = CliRunner().invoke(main, ["drills", "sites", str(tmp_path / "s.gpkg")])
    assert wrong.exit_code == 1
    assert "written as a .csv" in wrong.output


def test_local_cluster_leaves_ctrl_c_to_the_client() -> None:
    # Ctrl-C in a terminal signals the whole process group: workers that took it would die
    # mid-task printing tracebacks instead of being shut down by the client
    scheduler_log = logging.getLogger("distributed.scheduler")
    seen: list[str] = []
    handler = logging.Handler()
    handler.addFilter(lambda record: record.getMessage().startswith("Couldn't gather"))
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    scheduler_log.addHandler(handler)
    try:
        with dask_client(workers=1) as client:
            ignored = client.run(lambda: signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
            assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
            # a result fetched while Ctrl-C cancelled its task: nobody wants it, no ERROR line
            scheduler_log.error("Couldn't gather keys: %s", {"run_batch-1": "forgotten"})
            scheduler_log.error("Couldn't gather keys: %s", {"run_batch-2": "memory"})
    finally:
        scheduler_log.removeHandler(handler)
    assert list(ignored.values()) == [True]
    assert seen == ["Couldn't gather keys: {'run_batch-2': 'memory'}"]


def _stored(engine: Engine, drill: str) -> dict[int, object]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.id, s.computed_at FROM drill_scenario s JOIN drill d ON d.id = s.drill_id"
                " WHERE d.name = :name AND s.status <> 'pending'"
            ),
            {"name": drill},
        ).all()
    return dict(rows)


@pytest.fixture(scope="module")
def slow_cluster() -> Iterator[Any]:
    """One local Dask worker, warmed up, that holds each finished batch 0.1 s: the half-way
    point of a small drill then lasts long enough to be caught by a poll, on any machine."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class SlowBatches(WorkerPlugin):
        def transition(self, key: object, start: str, finish: str, **kwargs: object) -> None:  # noqa: ARG002
            if finish == "memory" and str(key).startswith("run_batch"):
                time.sleep(0.1)

    with dask_client(workers=1) as client:
        client.register_plugin(SlowBatches(), name="slow-batches")
        client.run(importlib.import_module, "geo.registry")  # what a registry unpickles
        yield client


def test_drill_command_stopped_half_way_by_ctrl_c_resumes_computing_nothing_twice(
    engine: Engine, registry_url: URL, slow_cluster: Any, tmp_path: Path
) -> None:
    scenarios = tmp_path / "half_way.csv"
    made = CliRunner().invoke(
        main,
        ["drills", "sites", str(scenarios), "--every", "20", "--limit", "40", "--inset", "600"],
        env=_env(registry_url),
    )
    assert "40 scenario points" in made.output, made.output
    drill, total = scenarios.stem, 40

    command = ["drills", "precompute", str(scenarios), "--radius", "500", "--batch-size", "4",
               "--scheduler", slow_cluster.scheduler.address]  # fmt: skip
    first_run = subprocess.Popen(
        [sys.executable, "-m", "api.cli", *command],
        env={**os.environ, **_env(registry_url)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(_stored(engine, drill)) < total // 2:
        assert first_run.poll() is None, first_run.communicate()
        assert time.monotonic() < deadline, "the drill never got half-way"
        time.sleep(0.02)
    first_run.send_signal(signal.SIGINT)  # Ctrl-C
    out, err = first_run.communicate(timeout=60)
    done_first = _stored(engine, drill)
    n = len(done_first)
    assert total // 2 <= n < total
    assert first_run.returncode == 1, (out, err)
    assert "Traceback" not in err
    assert (
        f"gilmok: error: interrupted: {n} of {total} scenarios stored ({n} by this run),"
        f" {total - n} pending; run the same command to resume {drill}"
    ) in err
    with engine.connect() as conn:  # nothing half-written: each row all pending or all set
        partial = conn.execute(
            text(
                "SELECT count(*) FROM drill_scenario s JOIN drill d ON d.id = s.drill_id"
                " WHERE d.name = :name AND ((s.status = 'pending') <> (s.computed_at IS NULL)"
                " OR (s.status = 'done') <> (s.result IS NOT NULL))"
            ),
            {"name": drill},
        ).scalar_one()
    assert partial == 0

    out_file = tmp_path / f"{drill}.gpkg"
    resumed = CliRunner().invoke(main, [*command, "--out", str(out_file)], env=_env(registry_url))
    assert resumed.exit_code == 0, resumed.output
    assert f"0 added; {n} already computed, skipped; {total - n} to compute" in resumed.output
    assert f"this run stored {total - n} scenarios in" in resumed.output
    done_after = _stored(engine, drill)
    assert len(done_after) == total
    assert {k: done_after[k] for k in done_first} == done_first  # not one computed again
    with engine.connect() as conn:
        info = store.get_drill(conn, drill)
    assert (info.done + info.failed, info.pending) == (total, 0)
    assert f"drill {drill}: {total} scenarios ({info.done} done" in resumed.output
    scen = pyogrio.read_dataframe(out_file, layer="scenario")
    appr = pyogrio.read_dataframe(out_file, layer="approach")
    assert len(scen) == total
    assert (scen["status"] != "pending").all()
    assert len(appr) == info.approaches > 0
    assert int(appr["blind"].sum()) == info.blind


def test_sigterm_stops_a_drill_like_ctrl_c() -> None:
    # `kill` or a batch system's time limit: by default Python dies at once, silently, and the
    # command could not say what it kept
    from geo.drill_precompute import terminate_as_interrupt

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), terminate_as_interrupt():
        signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before
