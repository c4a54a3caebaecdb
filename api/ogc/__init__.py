"""OGC API – Features (Part 1 Core, GeoJSON, OpenAPI 3.0; Part 2 CRS by reference) at ``/ogc``.

The URL a GIS user pastes into QGIS (Layer ▸ Add WFS / OGC API – Features) or GDAL
(``OAPIF:https://host/ogc``) is the landing page, ``/ogc``. From it: ``/ogc/conformance``,
``/ogc/collections`` (:mod:`api.ogc.collections` says what each holds and who may read it),
``/ogc/collections/{collectionId}``, its ``items`` and one item by id. The API key goes in a
header as on ``/v1`` (``Authorization: Bearer gk_…`` or ``X-API-Key``); the OpenAPI document
is ``/openapi.json`` (the ``service-desc`` link).

Items are RFC 7946 GeoJSON (``application/geo+json``; ``application/json`` when that is all the
client accepts), paged by an opaque keyset cursor in the ``next``/``prev`` links
(:mod:`api.ogc.paging`), with ``numberMatched``, ``numberReturned`` and ``timeStamp``. ``crs``
chooses the output CRS among CRS84 (the default), EPSG:4326, EPSG:5179 (the storage CRS) and
EPSG:5186, in each CRS's axis order, named by the ``Content-Crs`` header; ``bbox-crs`` the CRS
of ``bbox`` (:mod:`api.ogc.crs`).

As the standard asks, an invalid or unknown query parameter is 400 (``/v1`` answers 422), in
the one error shape.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma
import orjson
from flask import Response, request
from flask.views import MethodView
from werkzeug.exceptions import UnprocessableEntity

from api.auth import current_caller, requires_roles
from api.context import app_state, transaction
from api.errors import ErrorSchema, error_response, handle_http_exception
from api.ogc import coverage_levels
from api.ogc import crs as ogc_crs
from api.ogc.collections import Collection, find_collection, listed_collections
from api.ogc.paging import Cursor, decode_cursor, link, url_with
from api.ogc.schemas import (
    FormatQuery,
    ItemsQuery,
    OgcCollectionOut,
    OgcCollectionsOut,
    OgcConformanceOut,
    OgcFeatureOut,
    OgcItemsOut,
    OgcLandingOut,
    OutputQuery,
)
from api.schemas import Blueprint
from geo import domain
from geo.errors import InvalidInput, NotFound
from geo.store import features

PREFIX = "/ogc"
GEOJSON = "application/geo+json"
JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
BAD_REQUEST = "A query parameter is unknown or not valid (OGC API – Features asks 400 for both)"

blp = Blueprint(
    "ogc",
    __name__,
    url_prefix=PREFIX,
    description="OGC API – Features for QGIS, GDAL and OWSLib: cameras, coverage, roads,"
    " incidents and their approaches (any API key; incidents as GET /v1/incidents scopes them)",
)


def _bad_request(exc: UnprocessableEntity) -> Response:
    """A request the schema refused: 400, as OGC API – Features asks, in the one shape."""
    response = handle_http_exception(exc)
    response.status_code = 400
    return response


def _bad_input(exc: InvalidInput) -> Response:
    return error_response(400, exc.code, exc.message, exc.details)


blp.register_error_handler(UnprocessableEntity, _bad_request)
blp.register_error_handler(InvalidInput, _bad_input)


def _json(body: dict[str, Any], media_type: str = JSON, **headers: str) -> Response:
    return Response(orjson.dumps(body), mimetype=media_type, headers=headers)


def _features_type() -> str:
    """geo+json unless the client accepts only plain JSON."""
    best = request.accept_mimetypes.best_match([GEOJSON, JSON], default=GEOJSON)
    return best or GEOJSON


def _max_range_m() -> float:
    return float(app_state().settings.max_coverage_range_m)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _collection_doc(collection: Collection) -> dict[str, Any]:
    base = f"{request.host_url.rstrip('/')}{PREFIX}/collections/{collection.id}"
    bounds = list(app_state().settings.country_bounds)
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "links": [
            link(base, "self", JSON, "this collection"),
            link(f"{base}/items", "items", GEOJSON, f"{collection.title} ({collection.geometry})"),
        ],
        "extent": {"spatial": {"bbox": [bounds], "crs": ogc_crs.CRS84}},
        "crs": list(ogc_crs.SUPPORTED),
        "storageCrs": ogc_crs.STORAGE_CRS,
        "x-gilmok-geometry": collection.geometry,
    }


@blp.route("", strict_slashes=False)
class Landing(MethodView):
    @requires_roles(*domain.ROLES)
    @blp.arguments(FormatQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, OgcLandingOut)
    @blp.alt_response(400, schema=ErrorSchema, description=BAD_REQUEST)
    def get(self, _args: dict[str, Any]) -> Response:
        """OGC API – Features landing page: links to the API document, conformance and data"""
        root = request.host_url.rstrip("/")
        return _json(
            {
                "title": "gilmok",
                "description": "Cameras, their coverage, roads, incidents and approaches as"
                " OGC API – Features",
                "links": [
                    link(f"{root}{PREFIX}", "self", JSON, "this document"),
                    link(f"{root}/openapi.json", "service-desc", OPENAPI, "the API definition"),
                    link(f"{root}{PREFIX}/conformance", "conformance", JSON),
                    link(
                        f"{root}{PREFIX}/conformance",
                        "http://www.opengis.net/def/rel/ogc/1.0/conformance",
                        JSON,
                    ),
                    link(f"{root}{PREFIX}/collections", "data", JSON, "the collections"),
                    link(
                        f"{root}{PREFIX}/collections",
                        "http://www.opengis.net/def/rel/ogc/1.0/data",
                        JSON,
                    ),
                ],
            }
        )


@blp.route("/conformance")
class Conformance(MethodView):
    @requires_roles(*domain.ROLES)
    @blp.arguments(FormatQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, OgcConformanceOut)
    @blp.alt_response(400, schema=ErrorSchema, description=BAD_REQUEST)
    def get(self, _args: dict[str, Any]) -> Response:
        """The conformance classes implemented"""
        return _json({"conformsTo": CONFORMANCE, "links": []})


@blp.route("/collections")
class Collections(MethodView):
    @requires_roles(*domain.ROLES)
    @blp.arguments(FormatQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, OgcCollectionsOut)
    @blp.alt_response(400, schema=ErrorSchema, description=BAD_REQUEST)
    def get(self, _args: dict[str, Any]) -> Response:
        """The collections this API key may read (incidents' approaches: the open ones)"""
        with transaction() as conn:
            listed = listed_collections(conn, current_caller())
        root = request.host_url.rstrip("/")
        return _json(
            {
                "links": [link(f"{root}{PREFIX}/collections", "self", JSON)],
                "collections": [_collection_doc(c) for c in listed],
                "crs": list(ogc_crs.SUPPORTED),
            }
        )


@blp.route("/collections/<string:collectionId>")
class CollectionView(MethodView):
    @requires_roles(*domain.ROLES)
    @blp.arguments(FormatQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, OgcCollectionOut)
    @blp.alt_response(400, schema=ErrorSchema, description=BAD_REQUEST)
    def get(self, _args: dict[str, Any], collectionId: str) -> Response:
        """One collection: what it holds, its extent and CRSs, the link to its items"""
        with transaction() as conn:
            collection = find_collection(conn, current_caller(), collectionId)
        return _json(_collection_doc(collection))


def _page_links(
    collection: Collection, page: features.Page, media_type: str
) -> list[dict[str, str]]:
    path = f"{PREFIX}/collections/{collection.id}/items"
    links = [
        link(url_with(path), "self", media_type, "this page"),
        link(url_with(f"{PREFIX}/collections/{collection.id}", limit=None, bbox=None,
                      cursor=None, crs=None, **{"bbox-crs": None}),
             "collection", JSON),
    ]  # fmt: skip
    if page.ids and page.more_after:
        after = Cursor("next", page.ids[-1]).encode()
        links.append(link(url_with(path, cursor=after), "next", media_type, "the next page"))
    if page.ids and page.more_before:
        before = Cursor("prev", page.ids[0]).encode()
        links.append(link(url_with(path, cursor=before), "prev", media_type, "the previous page"))
    return links


@blp.route("/collections/<string:collectionId>/items")
class Items(MethodView):
    @requires_roles(*domain.ROLES)
    @blp.arguments(ItemsQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, OgcItemsOut, content_type=GEOJSON)
    @blp.alt_response(400, schema=ErrorSchema, description=BAD_REQUEST)
    def get(self, args: dict[str, Any], collectionId: str) -> Response:
        """A page of a collection's features (GeoJSON), optionally within a bbox

        Follow the `next` link for the next page: its cursor is a position, not an offset, so
        rows added between requests are neither repeated nor skipped.
        """
        output = ogc_crs.crs_of(args.get("crs"), parameter="crs")
        bbox_crs = ogc_crs.crs_of(args.get("bbox_crs"), parameter="bbox-crs")
        if "bbox_crs" in args and "bbox" not in args:
            raise InvalidInput("bbox-crs needs a bbox", details={"field": "bbox-crs"})
        box = ogc_crs.search_box(args["bbox"], bbox_crs) if "bbox" in args else None
        cursor = decode_cursor(args.get("cursor"))
        after = cursor.id if cursor and cursor.direction == "next" else None
        before = cursor.id if cursor and cursor.direction == "prev" else None
        with transaction() as conn:
            collection = find_collection(conn, current_caller(), collectionId)
            if collection.source is not None:
                page = features.feature_page(
                    conn, collection.source(conn, current_caller()), box=box, after=after,
                    before=before, limit=args["limit"], out=output.output,
                )  # fmt: skip
            elif before is not None:
                raise InvalidInput(
                    f"{collection.id} pages forward only: follow its next links",
                    details={"field": "cursor"},
                )
            else:
                page = coverage_levels.coverage_page(
                    conn, str(collection.drawn_level), box=box, after=after,
                    limit=args["limit"], out=output.output, max_range_m=_max_range_m(),
                )  # fmt: skip
        media_type = _features_type()
        envelope = orjson.dumps(
            {
                "numberMatched": page.number_matched,
                "numberReturned": len(page.ids),
                "timeStamp": _now(),
                "links": _page_links(collection, page, media_type),
            }
        )
        body = b"".join(
            [
                b'{"type":"FeatureCollection","features":[',
                ",".join(page.features).encode(),
                b"],",
                envelope[1:],
            ]
        )
        return Response(body, mimetype=media_type, headers={"Content-Crs": f"<{output.uri}>"})


@blp.route("/collections/<string:collectionId>/items/<int:featureId>")
class Item(MethodView):
    @requires_roles(*domain.ROLES)
    @blp.arguments(OutputQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, OgcFeatureOut, content_type=GEOJSON)
    @blp.alt_response(400, schema=ErrorSchema, description=BAD_REQUEST)
    def get(self, args: dict[str, Any], collectionId: str, featureId: int) -> Response:
        """One feature of a collection by its id (GeoJSON)"""
        output = ogc_crs.crs_of(args.get("crs"), parameter="crs")
        with transaction() as conn:
            collection = find_collection(conn, current_caller(), collectionId)
            text = None
            if featureId < 2**63 and collection.source is not None:
                text = features.feature_by_id(
                    conn, collection.source(conn, current_caller()), featureId, out=output.output
                )
            elif featureId < 2**63:
                text = coverage_levels.coverage_feature(
                    conn, str(collection.drawn_level), featureId, out=output.output,
                    max_range_m=_max_range_m(),
                )  # fmt: skip
        if text is None:
            raise NotFound(
                f"collection {collection.id} has no feature {featureId}",
                details={"collection": collection.id, "feature": featureId},
            )
        base = f"{request.host_url.rstrip('/')}{PREFIX}/collections/{collection.id}"
        media_type = _features_type()
        links = orjson.dumps(
            [
                link(f"{base}/items/{featureId}", "self", media_type),
                link(base, "collection", JSON),
            ]
        )
        body = text.encode()[:-1] + b',"links":' + links + b"}"
        return Response(body, mimetype=media_type, headers={"Content-Crs": f"<{output.uri}>"})
