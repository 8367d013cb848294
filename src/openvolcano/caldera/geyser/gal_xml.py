"""The DROP-compatible XML profile of the GAL REST binding: ``/GAL/{id}/{method}``.

Role: lets clients written for DROP's GAL agent (the platform OpenVolcano grew
from; ETSI ES 203 237 "exposed over REST", paper section V) talk to geyser.
It is a second *rendering* of the same GAL primitives the JSON API at
``/gal`` serves: every request calls the same :class:`~.agent.GeyserAgent`
method the JSON route calls; only the parsing and the rendering live here.

Design (see docs/geyser.md and /work/shared/GAL.md, "GAL REST binding as
implemented in DROP"):

* Content type ``text/xml``, namespace ``http://www.econet-project.eu/GAL``
  (prefix ``gal``). URL ``/GAL/{id}/{method}``; the id may instead come as
  ``?id=`` (not both); the default method is ``discovery``; method names
  match case-insensitively.
* ``GET discovery`` (``propertySelector`` repeatable: powerStates,
  physicalChildren, logicalChildren, sensors, states, committedState, all;
  ``childDepth`` recurses into logicalChildren); ``GET monitoring``;
  ``GET committedState`` / ``GET provisionedState`` (monitor_state);
  ``PUT provisionedState`` (``<gal:... state_id="N"/>``); ``POST
  committedState`` (``<gal:commit/>`` or ``<gal:rollback/>``); ``DELETE
  release`` (DROP's parser forgot ``release``; here it works); ``OPTIONS``
  answers CORS preflights, and every answer carries
  ``Access-Control-Allow-Origin: *``.
* Status mapping (DROP's): GalSuccess 200, GalResourceNotFound 404,
  GalNotImplemented 501 (an unknown method name), every other GAL return code
  500 (an undefined state id is GalError, a failed actuator GalFailure...). A
  GET with a body, a PUT/POST without one, malformed XML or query -> 400. A
  known method with the wrong verb -> 405 with ``Allow``. Errors are
  ``<gal:error returnCode name>message</gal:error>``.

Invariants: request bodies are limited to 64 KiB and may not contain a DTD
(no entity expansion); sensor values and ``max`` are raw int32 in the
sensor's RFC 3433 scale and precision, as GAL defines them; geyser's tree has
logical resources only, so ``physicalChildren`` is always empty.
"""

from __future__ import annotations

import enum
import re
import xml.etree.ElementTree as ET
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from openvolcano.api import geyser as api
from openvolcano.caldera.geyser.agent import GeyserAgent
from openvolcano.caldera.geyser.gal.model import SensorScale
from openvolcano.caldera.geyser.gal.tree import CommitFailed
from openvolcano.common.clock import Clock
from openvolcano.common.errors import NotFound, OpenVolcanoError, Unavailable

__all__ = [
    "GAL_NS",
    "BadRequest",
    "GalMethodNotImplemented",
    "GalReturnCode",
    "add_gal_xml_routes",
    "parse_commit",
    "parse_provision",
    "render_discovery",
    "render_monitoring",
    "resolve",
]

GAL_NS = "http://www.econet-project.eu/GAL"
MEDIA_TYPE = "text/xml"
MAX_BODY = 64 * 1024
MAX_DEPTH = 64
ET.register_namespace("gal", GAL_NS)

METHODS = {
    m.lower(): m
    for m in ("discovery", "monitoring", "provisionedState", "committedState", "release")
}
VERBS = {
    "discovery": ("GET",),
    "monitoring": ("GET",),
    "provisionedState": ("GET", "PUT"),
    "committedState": ("GET", "POST"),
    "release": ("DELETE",),
}
SELECTORS = (
    "powerStates",
    "physicalChildren",
    "logicalChildren",
    "sensors",
    "states",
    "committedState",
)
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, PUT, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Accept",
    "Access-Control-Max-Age": "600",
}


class GalReturnCode(enum.IntEnum):
    """``gal::ReturnCode`` as DROP defines it."""

    GalUndefined = -2
    GalFailure = -1
    GalSuccess = 0
    GalError = 1
    GalNotImplemented = 2
    GalResourceNotFound = 4
    GalResourceNotAvailable = 8
    GalProtocolError = 16


class BadRequest(OpenVolcanoError):
    """The request itself is malformed (body presence, XML, query): HTTP 400."""

    http_status = 400
    code = "bad_request"


class GalMethodNotImplemented(OpenVolcanoError):
    """The URL names a GAL method geyser does not implement: GalNotImplemented, HTTP 501."""

    http_status = 501
    code = "not_implemented"


class _WrongVerb(OpenVolcanoError):
    http_status = 405
    code = "method_not_allowed"


def return_code(exc: OpenVolcanoError) -> GalReturnCode:
    """The GAL return code an error stands for."""
    if isinstance(exc, NotFound):
        return GalReturnCode.GalResourceNotFound
    if isinstance(exc, GalMethodNotImplemented):
        return GalReturnCode.GalNotImplemented
    if isinstance(exc, CommitFailed):
        return GalReturnCode.GalFailure
    if isinstance(exc, Unavailable):
        return GalReturnCode.GalResourceNotAvailable
    return GalReturnCode.GalError


def http_status(exc: OpenVolcanoError) -> int:
    """DROP's mapping: 404, 501, protocol-level 400/405, every other GAL code 500."""
    if isinstance(exc, BadRequest | _WrongVerb):
        return exc.http_status
    code = return_code(exc)
    return {GalReturnCode.GalResourceNotFound: 404, GalReturnCode.GalNotImplemented: 501}.get(
        code, 500
    )


# --- parsing -------------------------------------------------------------------------------


def resolve(segments: list[str], query_ids: list[str]) -> tuple[str, str]:
    """(resource id, canonical method name) from the path segments after ``/GAL`` and ``?id=``."""
    if len(query_ids) > 1:
        raise BadRequest("the resource id is given more than once (?id=)")
    qid = query_ids[0] if query_ids else None
    if len(segments) == 2:
        rid, method = segments
        if qid is not None:
            raise BadRequest("the resource id is given both in the path and as ?id=")
    elif len(segments) == 1 and segments[0].lower() in METHODS:
        rid, method = qid or "", segments[0]
    elif len(segments) == 1:
        rid, method = segments[0], "discovery"
        if qid is not None:
            raise BadRequest("the resource id is given both in the path and as ?id=")
    else:
        rid, method = qid or "", "discovery"
    if not rid:
        raise BadRequest("no resource id: use /GAL/{id}/{method} or ?id=")
    canonical = METHODS.get(method.lower())
    if canonical is None:
        raise GalMethodNotImplemented(
            f"GAL method {method!r} is not implemented (known: {', '.join(METHODS.values())})"
        )
    return rid, canonical


def _selectors(values: list[str]) -> set[str]:
    out: set[str] = set()
    lowered = {s.lower(): s for s in SELECTORS}
    for v in values or ["all"]:
        for item in v.split(","):
            key = item.strip().lower()
            if key == "all":
                out |= set(SELECTORS) - {"committedState"}
            elif key in lowered:
                out.add(lowered[key])
            else:
                raise BadRequest(
                    f"unknown propertySelector {item.strip()!r} "
                    f"(known: all, {', '.join(SELECTORS)})"
                )
    return out


def _depth(values: list[str]) -> int:
    if not values:
        return 0
    if len(values) > 1 or not values[0].isdigit() or int(values[0]) > MAX_DEPTH:
        raise BadRequest(f"childDepth must be one integer in 0..{MAX_DEPTH}")
    return int(values[0])


def _parse_body(body: bytes) -> ET.Element:
    if len(body) > MAX_BODY:
        raise BadRequest(f"request body larger than {MAX_BODY} bytes")
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise BadRequest("request bodies may not contain a DTD or entity declarations")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise BadRequest(f"request body is not well-formed XML: {exc}") from None
    ns, _, _ = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", "")
    if ns not in ("", GAL_NS):
        raise BadRequest(f"request body root must be in the GAL namespace {GAL_NS}, not {ns!r}")
    return root


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def parse_provision(body: bytes) -> int:
    """``<gal:... state_id="N"/>`` -> N."""
    root = _parse_body(body)
    raw = root.get("state_id")
    if raw is None:
        raise BadRequest(f"<{_local(root.tag)}> has no state_id attribute")
    if not raw.strip().isdigit() or int(raw) > 65535:
        raise BadRequest(f"state_id must be an integer in 0..65535, got {raw!r}")
    return int(raw)


def parse_commit(body: bytes) -> Literal["commit", "rollback"]:
    """``<gal:commit/>`` or ``<gal:rollback/>``."""
    name = _local(_parse_body(body).tag)
    if name == "commit":
        return "commit"
    if name == "rollback":
        return "rollback"
    raise BadRequest(f"committedState takes <gal:commit/> or <gal:rollback/>, not <{name}>")


# --- rendering ------------------------------------------------------------------------------


def _q(name: str) -> str:
    return f"{{{GAL_NS}}}{name}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _el(parent: ET.Element | None, tag: str, /, **attrs: str) -> ET.Element:
    if parent is None:
        return ET.Element(_q(tag), attrs)
    return ET.SubElement(parent, _q(tag), attrs)


def _raw_max(s: api.SensorInfo) -> str | None:
    if s.max_value is None:
        return None
    return str(round(s.max_value / SensorScale(s.scale_code).multiplier * 10.0**s.precision))


def _ncname(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return clean if re.match(r"[A-Za-z_]", clean) else f"s_{clean}"


def _resource(
    parent: ET.Element | None, res: api.Resource, sel: set[str], depth: int
) -> ET.Element:
    el = _el(parent, "resource", resource_id=res.id, description=res.description, type=res.type)
    if "powerStates" in sel:
        states = _el(el, "powerStates", count=str(len(res.states)))
        for st in res.states:
            _el(states, "state", state_id=str(st.id),
                minimum_power_gain=str(round(st.min_power_gain_pct)),
                maximum_packet_throughput=_num(st.max_packet_throughput_pps),
                maximum_bit_throughput=_num(st.max_bit_throughput_bps),
                power_gain=str(round(st.power_gain_pct)), wakeup_time=_num(st.wakeup_time_s),
                sleeping_time=_num(st.sleeping_time_s), kind=st.kind,
                description=st.name)  # fmt: skip
    if "physicalChildren" in sel:
        _el(el, "physicalChildren", count="0")
    if "logicalChildren" in sel:
        kids = _el(el, "logicalChildren", count=str(len(res.children)))
        for child in res.children:
            if depth > 0:
                _resource(kids, child, sel, depth - 1)
            else:
                _el(kids, "resource", resource_id=child.id, description=child.description,
                    type=child.type)  # fmt: skip
    if "sensors" in sel:
        sensors = _el(el, "sensors", count=str(len(res.sensors)))
        for s in res.sensors:
            attrs = {"resource_id": s.id, "description": s.description, "type": str(s.type_code),
                     "scale": str(s.scale_code), "precision": str(s.precision),
                     "rate": str(s.refresh_rate_ms), "unit": s.unit}  # fmt: skip
            mx = _raw_max(s)
            if mx is not None:
                attrs["max"] = mx
            _el(sensors, "resource", **attrs)
    if "states" in sel:
        _el(el, "committedState", state_id=str(res.committed_state))
        _el(el, "provisionedState", state_id=str(res.provisioned_state))
    return el


def render_discovery(res: api.Resource, selectors: set[str], depth: int) -> ET.Element:
    """``<gal:resource>`` for ``res``; ``res`` must carry children to ``depth + 1`` levels."""
    return _resource(None, res, selectors, depth)


def render_monitoring(res: api.Resource) -> ET.Element:
    """``<gal:monitoring>``: the committed EAS and every sensor whose status is ok (raw value)."""
    el = _el(None, "monitoring", resource_id=res.id)
    _el(el, "committedState", value=str(res.committed_state))
    for r in res.readings:
        if r.status == "ok":
            _el(el, _ncname(r.sensor.rpartition(".")[2]), value=str(r.raw),
                resource_id=r.sensor, origin=r.origin)  # fmt: skip
    return el


def _change(kind: str, result: api.ChangeResult) -> ET.Element:
    el = _el(None, kind, resource_id=result.resource, count=str(len(result.changed)))
    for rid in result.changed:
        _el(el, "changed", resource_id=rid)
    return el


def _xml(el: ET.Element, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = ET.tostring(el, encoding="utf-8", xml_declaration=True)
    return Response(body, status, {**CORS, **(headers or {})}, media_type=MEDIA_TYPE)


def _error(exc: OpenVolcanoError) -> Response:
    code = return_code(exc)
    el = _el(None, "error", returnCode=str(int(code)), name=code.name)
    el.text = exc.message
    headers = {"Allow": str(exc.details["allow"])} if isinstance(exc, _WrongVerb) else None
    return _xml(el, http_status(exc), headers)


# --- the routes -------------------------------------------------------------------------------


def add_gal_xml_routes(app: FastAPI, agent: GeyserAgent, clock: Clock) -> None:
    """Serve the XML profile under ``/GAL`` on ``app``, over the same ``agent``."""

    async def handle(request: Request, segments: list[str]) -> Response:
        verb = request.method
        if verb == "OPTIONS":  # CORS preflight: answered for any /GAL URL
            return Response(status_code=200, headers=CORS)
        try:
            rid, method = resolve(segments, request.query_params.getlist("id"))
            body = await request.body()
            if verb not in VERBS[method]:
                allow = ", ".join((*VERBS[method], "OPTIONS"))
                raise _WrongVerb(f"{verb} is not allowed on {method}", allow=allow)
            if verb == "GET" and body:
                raise BadRequest("a GET request must not have a body")
            if verb in ("PUT", "POST") and not body.strip():
                raise BadRequest(f"a {verb} to {method} needs an XML body")
            return await run_in_threadpool(dispatch, request, verb, method, rid, body)
        except OpenVolcanoError as exc:
            return _error(exc)

    def dispatch(request: Request, verb: str, method: str, rid: str, body: bytes) -> Response:
        q = request.query_params
        if method == "discovery":
            depth = _depth(q.getlist("childDepth"))
            sel = _selectors(q.getlist("propertySelector"))
            # The committedState flag is accepted; geyser's EAS lists are the same in both views.
            return _xml(render_discovery(agent.discovery(rid, depth + 1), sel, depth))
        if method == "monitoring":
            return _xml(render_monitoring(agent.discovery(rid, 0)))
        if verb == "GET":
            view = agent.monitor_state(rid, committed=method == "committedState")
            return _xml(_el(None, method, resource_id=rid, state_id=str(view.state.id)))
        if method == "provisionedState":
            view = agent.provision(rid, parse_provision(body))
            return _xml(_el(None, method, resource_id=rid, state_id=str(view.state.id)))
        if method == "committedState":
            if parse_commit(body) == "commit":
                return _xml(_change("commit", agent.commit(rid, clock.now())))
            return _xml(_change("rollback", agent.rollback(rid)))
        return _xml(_change("release", agent.release(rid, clock.now())))

    verbs = ["GET", "PUT", "POST", "DELETE", "OPTIONS"]

    @app.api_route("/GAL", methods=verbs, include_in_schema=False)
    async def gal_root(request: Request) -> Response:
        return await handle(request, [])

    @app.api_route("/GAL/{first}", methods=verbs, include_in_schema=False)
    async def gal_one(request: Request, first: str) -> Response:
        return await handle(request, [first])

    @app.api_route("/GAL/{first}/{second}", methods=verbs, include_in_schema=False)
    async def gal_two(request: Request, first: str, second: str) -> Response:
        return await handle(request, [first, second])
