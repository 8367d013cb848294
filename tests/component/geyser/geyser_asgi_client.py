"""A synchronous test client for ASGI apps: httpx's ASGITransport driven through an anyio portal.

(starlette's TestClient warns about plain httpx at import, which our warnings-as-errors
policy turns into a failure; this gives the same synchronous calls without it.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal


class SyncASGIClient:
    def __init__(self, app: Any, portal: BlockingPortal) -> None:
        self._portal = portal
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://geyser"
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(lambda: self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self._portal.call(self._client.aclose)


def sync_client(app: Any) -> Iterator[SyncASGIClient]:
    with start_blocking_portal() as portal:
        client = SyncASGIClient(app, portal)
        try:
            yield client
        finally:
            client.close()
