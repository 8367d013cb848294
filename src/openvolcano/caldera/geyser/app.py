"""geyser's REST API: the GAL primitives over HTTP (JSON) and ``/metrics`` for Prometheus.

Role: how StratoV reaches a server's GAL agent (paper section V; ETSI ES 203
237 "exposed over REST"). cinder polls ``/gal`` and sensors, crater provisions,
commits and rolls back EASs, Prometheus scrapes ``/metrics``.

Design: an app factory over a started :class:`~.agent.GeyserAgent`; the only
state is the agent. A background task (owned by the app's lifespan, cancelled
and awaited on shutdown) refreshes the sensors every ``refresh_s``.

Endpoints (JSON bodies from :mod:`openvolcano.api.geyser`)::

    GET  /gal                                   whole tree (discovery, all depths)
    GET  /gal/resources/{id}?depth=N            discovery of one resource
    PUT  /gal/resources/{id}/provisioned        {"state_id": N}: stage an EAS
    POST /gal/resources/{id}/commit             apply staged EASs in the subtree
    POST /gal/resources/{id}/rollback           discard staged EASs in the subtree
    POST /gal/resources/{id}/release            back to the default EASs
    GET  /gal/resources/{id}/state?committed=   monitor state
    GET  /gal/resources/{id}/state/history      EAS history
    GET  /gal/resources/{id}/sensors/{name}     monitor sensor
    GET  /gal/resources/{id}/sensors/{name}/history
    GET  /metrics                               Prometheus text format
    /GAL/{id}/{method}                          the DROP-compatible XML profile (:mod:`.gal_xml`)

Errors: ``{"error", "message", "details"?}`` with 404 (unknown resource or
sensor), 409 (commit with nothing staged), 422 (invalid state or body), 502
(an actuator failed; what had been applied was rolled back), 503 (no reading
yet). A failed request changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from openvolcano.api import geyser as api
from openvolcano.caldera.geyser.agent import GeyserAgent
from openvolcano.caldera.geyser.gal_xml import add_gal_xml_routes
from openvolcano.common.clock import Clock
from openvolcano.common.errors import OpenVolcanoError, Unavailable

__all__ = ["GeyserCollector", "create_app"]

log = logging.getLogger(__name__)


class GeyserCollector(Collector):
    """Exports every sensor's latest reading and every resource's EAS as gauges."""

    def __init__(self, agent: GeyserAgent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[GaugeMetricFamily]:
        sensors = GaugeMetricFamily(
            "geyser_sensor_value",
            "Latest reading of a GAL sensor, in physical units (see the unit label)",
            labels=["resource", "resource_type", "sensor", "unit", "origin"],
        )
        for rtype, rid, r in self.agent.all_readings():
            if r.status == "ok":
                name = r.sensor.rpartition(".")[2]
                sensors.add_metric([rid, rtype, name, r.unit, r.origin], r.value)
        yield sensors
        committed = GaugeMetricFamily(
            "geyser_eas_committed", "Committed Energy-Aware State id", labels=["resource"]
        )
        provisioned = GaugeMetricFamily(
            "geyser_eas_provisioned",
            "Provisioned (staged) Energy-Aware State id",
            labels=["resource"],
        )
        for rid, c, p in self.agent.states():
            committed.add_metric([rid], c)
            provisioned.add_metric([rid], p)
        yield committed
        yield provisioned


def create_app(agent: GeyserAgent, clock: Clock, background_refresh: bool = True) -> FastAPI:
    """The geyser REST app over a started agent (``agent.start(now)`` already called)."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not background_refresh:
            yield
            return
        task = asyncio.create_task(_refresh_loop(agent, clock), name="geyser-refresh")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="geyser",
        summary="OpenVolcano per-server monitoring and Green Abstraction Layer agent",
        version="1",
        lifespan=lifespan,
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GeyserCollector(agent))

    @app.exception_handler(OpenVolcanoError)
    async def _ov_error(_: Request, exc: OpenVolcanoError) -> JSONResponse:
        return JSONResponse(status_code=exc.http_status, content=exc.to_dict())

    @app.exception_handler(RequestValidationError)
    async def _bad_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        where = ".".join(str(p) for p in errs[0]["loc"]) if errs else "request"
        msg = errs[0]["msg"] if errs else "invalid request"
        body = {"error": "invalid_input", "message": f"{where}: {msg}"}
        return JSONResponse(status_code=422, content=body)

    @app.get("/gal", response_model=api.Resource)
    def tree() -> api.Resource:
        return agent.discovery("0", depth=64)

    @app.get("/gal/resources/{rid}", response_model=api.Resource)
    def discovery(rid: str, depth: int = Query(default=0, ge=0, le=64)) -> api.Resource:
        return agent.discovery(rid, depth)

    @app.put("/gal/resources/{rid}/provisioned", response_model=api.StateView)
    def provision(rid: str, body: api.ProvisionRequest) -> api.StateView:
        return agent.provision(rid, body.state_id)

    @app.post("/gal/resources/{rid}/commit", response_model=api.ChangeResult)
    def commit(rid: str) -> api.ChangeResult:
        return agent.commit(rid, clock.now())

    @app.post("/gal/resources/{rid}/rollback", response_model=api.ChangeResult)
    def rollback(rid: str) -> api.ChangeResult:
        return agent.rollback(rid)

    @app.post("/gal/resources/{rid}/release", response_model=api.ChangeResult)
    def release(rid: str) -> api.ChangeResult:
        return agent.release(rid, clock.now())

    @app.get("/gal/resources/{rid}/state", response_model=api.StateView)
    def monitor_state(rid: str, committed: bool = True) -> api.StateView:
        return agent.monitor_state(rid, committed)

    @app.get("/gal/resources/{rid}/state/history", response_model=api.StateHistory)
    def state_history(rid: str) -> api.StateHistory:
        return agent.state_history(rid)

    @app.get("/gal/resources/{rid}/sensors/{name}", response_model=api.SensorReading)
    def monitor_sensor(rid: str, name: str) -> api.SensorReading:
        reading = agent.monitor_sensor(rid, name)
        if reading is None:
            raise Unavailable(f"sensor {rid}.{name} has no reading yet")
        return reading

    @app.get("/gal/resources/{rid}/sensors/{name}/history", response_model=api.SensorHistory)
    def sensor_history(rid: str, name: str) -> api.SensorHistory:
        return agent.sensor_history(rid, name)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(content=generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    add_gal_xml_routes(app, agent, clock)
    return app


async def _refresh_loop(agent: GeyserAgent, clock: Clock) -> None:
    while True:
        try:
            await asyncio.to_thread(agent.refresh, clock.now())
        except OpenVolcanoError as exc:  # a probe broke: report it, keep the other sensors alive
            log.warning("geyser refresh failed: %s", exc)
        await asyncio.sleep(agent.config.refresh_s)
