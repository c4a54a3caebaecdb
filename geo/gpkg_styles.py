"""QGIS layer styles stored in a GeoPackage, so that the file opens styled, not as grey dots.

QGIS reads a layer's default style from the GeoPackage's ``layer_styles`` table (the QGIS
GeoPackage styling extension: one row per style with ``f_table_name``, ``styleQML``,
``styleSLD`` and ``useAsDefault``), which GDAL lists as an ordinary attribute table. Each style
here is declared as data (:data:`STYLES`: rules of a filter, a label, a colour) and rendered to
QML (QGIS's rule-based renderer) and to SLD 1.1 (for other clients such as GeoServer):

- ``camera``: an arrow rotated by ``heading_deg`` (degrees clockwise from north, as QGIS
  rotates markers) for cameras with a heading; a circle for unknown headings; offline grey;
- ``coverage``: one colour per DORI level (detect … identify, pale to strong), drawn solid for
  ``high`` confidence and hatched with a dashed outline for ``low`` (unknown heading);
- drill layers: approaches blind in red, watched in green; cordon and watch stretches as lines.

Pure: the standard library's XML and sqlite3 (a GeoPackage is an SQLite file).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from geo.domain import DORI_PX_PER_M

QGIS_VERSION = "3.28.0"
SLD_NS = "http://www.opengis.net/sld"
SE_NS = "http://www.opengis.net/se"
OGC_NS = "http://www.opengis.net/ogc"


@dataclass(frozen=True)
class Rule:
    """One rule of a style: features matching ``where`` (field → value; ``None`` for NULL,
    and every pair must hold) drawn with ``colour`` (``#rrggbb``)."""

    label: str
    where: tuple[tuple[str, str | None], ...]
    colour: str
    #: marker: ``arrow`` (rotated by :attr:`LayerStyle.rotation_field`) or ``circle``;
    #: fill: ``solid`` or ``hatched``; line: ``solid`` or ``dash``
    shape: str = "solid"
    opacity: float = 1.0


@dataclass(frozen=True)
class LayerStyle:
    """The default style of one layer: ``kind`` is ``marker``, ``fill`` or ``line``."""

    layer: str
    name: str
    kind: str
    rules: tuple[Rule, ...]
    rotation_field: str | None = None
    description: str = ""


_DORI_COLOURS = {"detect": "#c6dbef", "observe": "#6baed6", "recognise": "#2171b5",
                 "identify": "#08306b"}  # fmt: skip

CAMERA_STYLE = LayerStyle(
    layer="camera",
    name="gilmok cameras",
    kind="marker",
    rotation_field="heading_deg",
    description="cameras: arrows rotated by heading_deg (clockwise from north); circles where"
    " the heading is unknown; offline grey",
    rules=(
        Rule("offline", (("status", "offline"),), "#9e9e9e", "circle"),
        Rule("heading unknown", (("status", "online"), ("heading_deg", None)), "#ff7f00", "circle"),
        Rule("heading known", (("status", "online"),), "#e31a1c", "arrow"),
    ),
)

COVERAGE_STYLE = LayerStyle(
    layer="coverage",
    name="gilmok coverage by DORI level",
    kind="fill",
    description="coverage: one colour per DORI level (IEC 62676-4); low confidence hatched",
    rules=tuple(
        Rule(
            f"{level} ({px:g} px/m), {confidence} confidence",
            (("level", level), ("confidence", confidence)),
            _DORI_COLOURS[level],
            "solid" if confidence == "high" else "hatched",
            0.45 if confidence == "high" else 0.8,
        )
        for level, px in DORI_PX_PER_M.items()
        for confidence in ("high", "low")
    ),
)

APPROACH_STYLE = LayerStyle(
    layer="approach",
    name="gilmok approaches",
    kind="marker",
    description="approaches: blind red, watched green",
    rules=(
        Rule("blind", (("blind", "1"),), "#d7301f", "circle"),
        Rule("watched", (("blind", "0"),), "#1a9850", "circle"),
    ),
)

CORDON_STYLE = LayerStyle(
    layer="cordon",
    name="gilmok cordon",
    kind="line",
    description="the roads within the cordon (network) or its circle (euclidean)",
    rules=(Rule("cordon", (), "#636363", "dash"),),
)

STRETCH_STYLE = LayerStyle(
    layer="watch_stretch",
    name="gilmok watch stretches",
    kind="line",
    description="each approach's watch stretch of road",
    rules=(Rule("watch stretch", (), "#ff7f00", "solid"),),
)

#: The styles by layer name.
STYLES = {s.layer: s for s in (CAMERA_STYLE, COVERAGE_STYLE, APPROACH_STYLE, CORDON_STYLE,
                               STRETCH_STYLE)}  # fmt: skip


def _rgba(colour: str, opacity: float) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"{r},{g},{b},{round(opacity * 255)}"


def _expression(where: tuple[tuple[str, str | None], ...]) -> str:
    """A QGIS expression: ``"field" = 'value' AND "other" IS NULL``; "" for every feature."""
    parts = []
    for field, value in where:
        if value is None:
            parts.append(f'"{field}" IS NULL')
        elif value.isdigit():
            parts.append(f'"{field}" = {value}')
        else:
            parts.append(f"\"{field}\" = '{value}'")
    return " AND ".join(parts)


def _option(parent: ET.Element, name: str, value: str, kind: str = "QString") -> None:
    ET.SubElement(parent, "Option", name=name, type=kind, value=value)


def _symbol_layer(symbol: ET.Element, style: LayerStyle, rule: Rule) -> None:
    colour = _rgba(rule.colour, rule.opacity)
    if style.kind == "marker":
        layer = ET.SubElement(symbol, "layer", {"class": "SimpleMarker", "enabled": "1",
                                                "locked": "0", "pass": "0"})  # fmt: skip
        options = ET.SubElement(layer, "Option", type="Map")
        _option(options, "name", "arrow" if rule.shape == "arrow" else "circle")
        _option(options, "color", colour)
        _option(options, "outline_color", "35,35,35,255")
        _option(options, "outline_width", "0.2")
        _option(options, "size", "4.5" if rule.shape == "arrow" else "2.6")
        _option(options, "size_unit", "MM")
        _option(options, "angle", "0")
        if rule.shape == "arrow" and style.rotation_field:
            defined = ET.SubElement(layer, "data_defined_properties")
            outer = ET.SubElement(defined, "Option", type="Map")
            _option(outer, "name", "")
            props = ET.SubElement(outer, "Option", name="properties", type="Map")
            angle = ET.SubElement(props, "Option", name="angle", type="Map")
            _option(angle, "active", "true", "bool")
            _option(angle, "field", style.rotation_field)
            _option(angle, "type", "2", "int")  # a field-based property
            _option(outer, "type", "collection")
    elif style.kind == "fill":
        layer = ET.SubElement(symbol, "layer", {"class": "SimpleFill", "enabled": "1",
                                                "locked": "0", "pass": "0"})  # fmt: skip
        options = ET.SubElement(layer, "Option", type="Map")
        _option(options, "color", colour)
        _option(options, "style", "solid" if rule.shape == "solid" else "b_diagonal")
        _option(options, "outline_color", _rgba(rule.colour, 1.0))
        _option(options, "outline_style", "solid" if rule.shape == "solid" else "dash")
        _option(options, "outline_width", "0.3")
    else:
        layer = ET.SubElement(symbol, "layer", {"class": "SimpleLine", "enabled": "1",
                                                "locked": "0", "pass": "0"})  # fmt: skip
        options = ET.SubElement(layer, "Option", type="Map")
        _option(options, "line_color", colour)
        _option(options, "line_style", "solid" if rule.shape == "solid" else "dash")
        _option(options, "line_width", "0.8" if rule.shape == "solid" else "0.4")


def to_qml(style: LayerStyle) -> str:
    """The style as a QGIS QML document: a rule-based renderer, one symbol per rule."""
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology")
    renderer = ET.SubElement(root, "renderer-v2", type="RuleRenderer", symbollevels="0",
                             enableorderby="0", forceraster="0")  # fmt: skip
    rules = ET.SubElement(renderer, "rules", key="root")
    symbols = ET.SubElement(renderer, "symbols")
    earlier: list[str] = []
    for i, rule in enumerate(style.rules):
        attrs = {"key": f"rule{i}", "label": rule.label, "symbol": str(i)}
        own = _expression(rule.where)
        # QGIS draws every rule that matches: each rule leaves out the ones before it, so a
        # camera online with no heading is a circle and not also an arrow.
        excluded = " AND ".join(f"NOT ({e})" for e in earlier)
        if own:
            attrs["filter"] = f"({own}) AND {excluded}" if excluded else own
            earlier.append(own)
        elif excluded:
            attrs["filter"] = "ELSE"
        ET.SubElement(rules, "rule", attrs)
        symbol = ET.SubElement(symbols, "symbol", type=style.kind, name=str(i), alpha="1",
                               clip_to_extent="1", force_rhr="0")  # fmt: skip
        _symbol_layer(symbol, style, rule)
    ET.SubElement(root, "layerGeometryType").text = {"marker": "0", "line": "1", "fill": "2"}[
        style.kind
    ]
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body


def _sld_filter(parent: ET.Element, where: tuple[tuple[str, str | None], ...]) -> None:
    if not where:
        return
    flt = ET.SubElement(parent, f"{{{OGC_NS}}}Filter")
    target = ET.SubElement(flt, f"{{{OGC_NS}}}And") if len(where) > 1 else flt
    for field, value in where:
        if value is None:
            test = ET.SubElement(target, f"{{{OGC_NS}}}PropertyIsNull")
            ET.SubElement(test, f"{{{OGC_NS}}}PropertyName").text = field
        else:
            test = ET.SubElement(target, f"{{{OGC_NS}}}PropertyIsEqualTo")
            ET.SubElement(test, f"{{{OGC_NS}}}PropertyName").text = field
            ET.SubElement(test, f"{{{OGC_NS}}}Literal").text = value


def _css(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, f"{{{SE_NS}}}SvgParameter", name=name).text = value


def to_sld(style: LayerStyle) -> str:
    """The style as an SLD 1.1 document (the same rules; hatching drawn as a lighter fill)."""
    ET.register_namespace("", SLD_NS)
    ET.register_namespace("se", SE_NS)
    ET.register_namespace("ogc", OGC_NS)
    root = ET.Element(f"{{{SLD_NS}}}StyledLayerDescriptor", version="1.1.0")
    layer = ET.SubElement(root, f"{{{SLD_NS}}}NamedLayer")
    ET.SubElement(layer, f"{{{SE_NS}}}Name").text = style.layer
    user = ET.SubElement(layer, f"{{{SLD_NS}}}UserStyle")
    ET.SubElement(user, f"{{{SE_NS}}}Name").text = style.name
    fts = ET.SubElement(user, f"{{{SE_NS}}}FeatureTypeStyle")
    for rule in style.rules:
        element = ET.SubElement(fts, f"{{{SE_NS}}}Rule")
        ET.SubElement(element, f"{{{SE_NS}}}Name").text = rule.label
        _sld_filter(element, rule.where)
        if style.kind == "marker":
            symbolizer = ET.SubElement(element, f"{{{SE_NS}}}PointSymbolizer")
            graphic = ET.SubElement(symbolizer, f"{{{SE_NS}}}Graphic")
            mark = ET.SubElement(graphic, f"{{{SE_NS}}}Mark")
            ET.SubElement(mark, f"{{{SE_NS}}}WellKnownName").text = (
                "triangle" if rule.shape == "arrow" else "circle"
            )
            fill = ET.SubElement(mark, f"{{{SE_NS}}}Fill")
            _css(fill, "fill", rule.colour)
            ET.SubElement(graphic, f"{{{SE_NS}}}Size").text = "12" if rule.shape == "arrow" else "7"
            if rule.shape == "arrow" and style.rotation_field:
                rotation = ET.SubElement(graphic, f"{{{SE_NS}}}Rotation")
                ET.SubElement(rotation, f"{{{OGC_NS}}}PropertyName").text = style.rotation_field
        elif style.kind == "fill":
            symbolizer = ET.SubElement(element, f"{{{SE_NS}}}PolygonSymbolizer")
            fill = ET.SubElement(symbolizer, f"{{{SE_NS}}}Fill")
            _css(fill, "fill", rule.colour)
            _css(fill, "fill-opacity", str(rule.opacity if rule.shape == "solid" else 0.2))
            stroke = ET.SubElement(symbolizer, f"{{{SE_NS}}}Stroke")
            _css(stroke, "stroke", rule.colour)
            if rule.shape != "solid":
                _css(stroke, "stroke-dasharray", "4 2")
        else:
            symbolizer = ET.SubElement(element, f"{{{SE_NS}}}LineSymbolizer")
            stroke = ET.SubElement(symbolizer, f"{{{SE_NS}}}Stroke")
            _css(stroke, "stroke", rule.colour)
            _css(stroke, "stroke-width", "2" if rule.shape == "solid" else "1")
            if rule.shape == "dash":
                _css(stroke, "stroke-dasharray", "4 2")
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


_CREATE = """
CREATE TABLE IF NOT EXISTS layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256),
    f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,
    useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), update_time DATETIME
)
"""


def write_layer_styles(path: Path | str, layers: list[str]) -> int:
    """Store the default style (:data:`STYLES`) of each of ``layers`` the GeoPackage holds in
    its ``layer_styles`` table, registered as an attribute table; returns how many."""
    wanted = [STYLES[name] for name in layers if name in STYLES]
    if not wanted:
        return 0
    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with sqlite3.connect(path) as db:
        columns = dict(
            db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall()
        )
        db.execute(_CREATE)
        db.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier,"
            " last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', ?)",
            (now,),
        )
        for style in wanted:
            db.execute("DELETE FROM layer_styles WHERE f_table_name = ?", (style.layer,))
            db.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name,"
                " f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description,"
                " owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, 'gilmok', '', ?)",
                (
                    style.layer,
                    columns.get(style.layer, "geom"),
                    style.name,
                    to_qml(style),
                    to_sld(style),
                    style.description,
                    now,
                ),
            )
    return len(wanted)
