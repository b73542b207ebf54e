"""The request-body limit: by Content-Length before reading, and by counting a chunked body."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("fastapi")

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from dcai.serve._limits import BodyLimit


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(BodyLimit, max_bytes=100)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return app


def _chunks(n: int, size: int) -> Iterator[bytes]:
    for _ in range(n):
        yield b"x" * size


def test_small_bodies_pass_and_large_ones_get_413() -> None:
    with TestClient(_app()) as client:
        assert client.post("/echo", content=b"x" * 100).json() == {"bytes": 100}
        refused = client.post("/echo", content=b"x" * 101)
        assert refused.status_code == 413 and "100 bytes" in refused.json()["detail"]


def test_a_chunked_body_is_counted_as_it_arrives() -> None:
    with TestClient(_app()) as client:
        assert client.post("/echo", content=_chunks(3, 30)).json() == {"bytes": 90}
        refused = client.post("/echo", content=_chunks(10, 30))
        assert refused.status_code == 413
