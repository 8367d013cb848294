"""magma's northbound REST API (FastAPI app factory, OpenAPI at /docs).

Role: how operators and the rest of StratoV look at and steer magma (paper
section IV, "every daemon explains itself"): switches with ports and port
statistics, LLDP links, learned hosts, flows per switch (installed vs desired,
and the drift a resync would fix), desired state per owner, recent errors
with the message that caused them.

Design: :func:`create_app` wraps one running :class:`~.controller.Magma`;
the app holds no state of its own. Bad input is a 4xx with a JSON body
``{"error": ..., "message": ...}`` and changes nothing: an unknown switch is
404, a malformed flow 422 (pydantic, naming the field), a rule that conflicts
with another owner's 409.
"""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import FastAPI, HTTPException, Path, Request
from fastapi.responses import JSONResponse

from openvolcano.api import magma as api
from openvolcano.common.errors import OpenVolcanoError
from openvolcano.ofp.multipart import PortStatsReply, PortStatsRequest

from . import convert
from .controller import SYSTEM_OWNER, Magma
from .reconcile import FlowRule, diff
from .session import SessionClosed, SwitchRequestError

__all__ = ["create_app"]

Owner = Annotated[str, Path(pattern=api.OWNER_PATTERN)]


def _flow_view(r: FlowRule, owner: str | None) -> api.FlowView:
    return api.FlowView(
        owner=owner,
        cookie=f"{r.cookie:#x}",
        table_id=r.table_id,
        priority=r.priority,
        match=convert.match_to_json(r.match),
        instructions=tuple(convert.instruction_text(i) for i in r.instructions),
        packet_count=r.packet_count,
    )


def create_app(magma: Magma) -> FastAPI:
    app = FastAPI(title="magma", description="StratoV's OpenFlow 1.3 controller", version="1")

    @app.exception_handler(OpenVolcanoError)
    async def _ov_error(_: Request, exc: OpenVolcanoError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.http_status,
            content={"error": type(exc).__name__, "message": str(exc)},
        )

    def dpid_of(text: str) -> int:
        try:
            dpid = api.parse_dpid(text)
        except ValueError as e:
            raise HTTPException(422, str(e)) from None
        if dpid not in magma.sessions and dpid not in magma.installed:
            raise HTTPException(404, f"unknown switch {text!r}")
        return dpid

    def switch_info(dpid: int) -> api.SwitchInfo:
        s = magma.sessions[dpid]
        return api.SwitchInfo(
            dpid=api.format_dpid(dpid),
            address=s.address,
            connected_at=s.connected_at,
            n_tables=s.n_tables,
            role=magma.role,
            ports=tuple(Magma.port_info(p) for _, p in sorted(s.ports.items())),
        )

    @app.get("/switches")
    async def switches() -> list[api.SwitchInfo]:
        return [switch_info(d) for d in sorted(magma.sessions)]

    @app.get("/switches/{dpid}")
    async def switch(dpid: str) -> api.SwitchInfo:
        d = dpid_of(dpid)
        if d not in magma.sessions:
            raise HTTPException(404, f"switch {dpid} is not connected")
        return switch_info(d)

    @app.get("/switches/{dpid}/ports")
    async def ports(dpid: str) -> list[api.PortInfo]:
        d = dpid_of(dpid)
        s = magma.sessions.get(d)
        if s is None:
            raise HTTPException(404, f"switch {dpid} is not connected")
        try:
            parts = await s.request(PortStatsRequest(), magma.config.request_timeout)
        except (SessionClosed, SwitchRequestError) as e:
            raise HTTPException(503, f"switch {dpid}: port stats unavailable: {e}") from None
        stats = {e.port_no: e for p in parts if isinstance(p, PortStatsReply) for e in p.body}
        out = []
        for no, p in sorted(s.ports.items()):
            info = Magma.port_info(p)
            st = stats.get(no)
            if st is not None:
                info = info.model_copy(
                    update={
                        "rx_packets": st.rx_packets,
                        "tx_packets": st.tx_packets,
                        "rx_bytes": st.rx_bytes,
                        "tx_bytes": st.tx_bytes,
                    }
                )
            out.append(info)
        return out

    @app.get("/switches/{dpid}/flows")
    async def flows(dpid: str) -> api.FlowsReport:
        d = dpid_of(dpid)
        s = magma.sessions.get(d)
        installed = magma.installed.get(d)
        if s is not None:
            with contextlib.suppress(SessionClosed, SwitchRequestError):
                installed = await magma.dump(s)
        if installed is None:
            raise HTTPException(503, f"switch {dpid}: flow tables not read yet")
        desired = magma.desired_rules(d)
        dd = diff(desired, installed)
        return api.FlowsReport(
            dpid=api.format_dpid(d),
            connected=s is not None,
            installed=tuple(
                _flow_view(r, magma.owner_of(r.cookie)) for r in installed.flows.values()
            ),
            desired=tuple(_flow_view(r, r.owner) for r in desired.flows.values()),
            missing=tuple(_flow_view(r, r.owner) for r in dd.missing),
            stale=tuple(_flow_view(r, magma.owner_of(r.cookie)) for r in dd.stale),
            changed=tuple(_flow_view(want, want.owner) for want, _ in dd.changed),
            in_sync=dd.empty,
        )

    @app.get("/links")
    async def links() -> list[api.LinkInfo]:
        return magma.topology.links()

    @app.get("/hosts")
    async def hosts() -> list[api.HostInfo]:
        return magma.topology.hosts()

    @app.get("/owners")
    async def owners() -> list[str]:
        return sorted(magma.desired)

    @app.get("/owners/{owner}")
    async def get_owner(owner: Owner) -> api.OwnerState:
        state = magma.desired.get(owner)
        if state is None:
            raise HTTPException(404, f"unknown owner {owner!r}")
        return state

    @app.put("/owners/{owner}")
    async def put_owner(owner: Owner, state: api.OwnerState) -> dict[str, bool]:
        if owner == SYSTEM_OWNER:
            raise HTTPException(409, f"owner name {SYSTEM_OWNER!r} is reserved for magma itself")
        await magma.put_owner(owner, state)
        return {
            api.format_dpid(d): magma.installed.get(d) is not None
            and diff(magma.desired_rules(d), magma.installed[d]).empty
            for d in (api.parse_dpid(k) for k in state.switches)
            if d in magma.sessions
        }

    @app.delete("/owners/{owner}", status_code=204)
    async def delete_owner(owner: Owner) -> None:
        if not await magma.delete_owner(owner):
            raise HTTPException(404, f"unknown owner {owner!r}")

    @app.get("/role")
    async def role() -> api.RoleInfo:
        lease = magma.lease
        return api.RoleInfo(
            role=magma.role,
            generation_id=magma.generation_id,
            election=magma.config.role == "auto",
            lease_holder=None if lease is None else lease.holder,
            lease_expires=None if lease is None else lease.expires,
        )

    @app.get("/errors")
    async def errors() -> list[api.ErrorRecord]:
        return list(magma.errors)

    return app
