"""The local web server of ``planning edit``: FastAPI on 127.0.0.1 only.

Every request must name the server itself: a Host other than ``127.0.0.1:PORT`` (DNS
rebinding) or an Origin other than ``http://127.0.0.1:PORT`` (another site's page) is refused
with 403. Bodies are checked against strict models; a bad request gets a 4xx with a message
(``{"error": ...}``), never a 500: 400 for an unknown area or team, 409 for a plan or lock the
rules refuse (the allocation's own message), 422 for a malformed body.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from planning.edit.service import EditService, Refused
from planning.edit.session import EditError
from planning.errors import PlanningError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PAGE = Path(__file__).with_name("page.html")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Move(Body):
    areas: list[str] = Field(min_length=1, max_length=100_000)
    team: str = Field(min_length=1, max_length=50)


class Lock(Body):
    teams: list[str] = []
    areas: list[str] = []
    locked: bool = True


class Save(Body):
    name: str = Field(min_length=1, max_length=100)
    override_band: bool = False


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return "malformed request: the body is not valid JSON"
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "malformed request: " + "; ".join(parts)


def make_app(service: EditService, port: int) -> FastAPI:
    """The app serving ``service`` at http://127.0.0.1:``port``."""
    app = FastAPI(title="planning edit", docs_url=None, redoc_url=None, openapi_url=None)
    own_host = f"{HOST}:{port}"
    own_origin = f"http://{own_host}"

    @app.middleware("http")
    async def only_ourselves(request: Request, call_next):
        host = request.headers.get("host", "")
        origin = request.headers.get("origin")
        if host != own_host:
            return _error(403, f"refused: Host {host!r} is not this server ({own_host})")
        if origin is not None and origin != own_origin:
            return _error(403, f"refused: Origin {origin!r} is not this server ({own_origin})")
        if request.method == "POST" and "json" not in request.headers.get("content-type", ""):
            body = await request.body()
            if body:
                return _error(415, "send the request body as JSON (Content-Type: application/json)")
        response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError):
        return _error(422, _validation_message(exc))

    @app.exception_handler(Refused)
    async def busy(request: Request, exc: Refused):
        return _error(409, str(exc))

    @app.exception_handler(EditError)
    async def bad_edit(request: Request, exc: EditError):
        return _error(400, str(exc))

    @app.exception_handler(PlanningError)
    async def refused(request: Request, exc: PlanningError):
        return _error(409, str(exc))

    payload: dict[str, Any] = {}

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE.read_text(encoding="utf-8")

    @app.get("/api/map")
    def map_data() -> dict[str, Any]:
        if not payload:
            payload.update(service.map_payload())
        return payload

    @app.get("/api/state")
    def state() -> dict[str, Any]:
        return service.view()

    @app.post("/api/move")
    def move(body: Move) -> dict[str, Any]:
        return service.move(body.areas, body.team)

    @app.post("/api/lock")
    def lock(body: Lock) -> dict[str, Any]:
        return service.lock(body.teams, body.areas, body.locked)

    @app.post("/api/undo")
    def undo() -> dict[str, Any]:
        return service.undo()

    @app.post("/api/redo")
    def redo() -> dict[str, Any]:
        return service.redo()

    @app.post("/api/reoptimise", status_code=202)
    def start_reoptimise() -> dict[str, Any]:
        return service.start_reoptimise()

    @app.get("/api/job")
    def job():
        """The re-optimisation: 200 while running or done; 409 with the allocation's own
        message when it refused the locks (or stopped)."""
        out = service.job_status()
        job = out["job"]
        if job is not None and job["state"] == "failed":
            return JSONResponse({"error": job["message"], **out}, status_code=409)
        return out

    @app.post("/api/save", status_code=201)
    def save(body: Save) -> dict[str, Any]:
        return service.save(body.name, body.override_band)

    @app.get("/favicon.ico", status_code=204)
    def favicon() -> None:
        return None

    @app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def not_found(rest: str):
        return _error(404, f"no such page or request: /{rest}")

    return app


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0: any free port); a port in use is a
    one-line error."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise EditError(f"--port {port}: cannot listen on {HOST}:{port} ({exc.strerror})") from None
    sock.listen(64)
    return sock


def serve(service: EditService, port: int, ready=None) -> None:
    """Serve until Ctrl-C (SIGINT) or SIGTERM; ``ready(url)`` is called once listening."""
    import uvicorn

    sock = bind(port)
    port = sock.getsockname()[1]
    app = make_app(service, port)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    if ready is not None:
        ready(f"http://{HOST}:{port}/")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        service.close()
