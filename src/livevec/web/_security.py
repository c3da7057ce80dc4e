"""What stands between the shop and the network, in one place.

`Guard`, an ASGI middleware, sees every request before any route does:

- **Host** (400): the header must name this server: a loopback name or address, an address it is
  bound to, or a name given with `allowed_hosts`. DNS rebinding (a web page re-pointing its own name
  at this machine) sends the page's name, and is refused.
- **Origin** (403): a request sent by a web page carries the page's origin; only this server's own
  page may send one. Other sites open in the same browser cannot write, not even with the "simple"
  requests (a form post, a `text/plain` fetch) that browsers send without asking first.
- **Size** (413): a body larger than the limit is refused from its `Content-Length`, before a byte
  of it is read, or as soon as its chunks add up to more.
- **Headers**: every response forbids framing, content sniffing and referrers, and the page runs
  only the scripts and styles served from here.

Two dependencies finish the job on the routes: `documented_content_type` (415: a body must be of a
type its route documents, and no query parameter says otherwise) and `service_only` (401: catalog
writes, the list of shoppers and minting shopper tokens need the bearer token the server was started
with). Who may act for one shopper is `_identity`'s to say.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from typing import Annotated
from urllib.parse import unquote_to_bytes

from fastapi import Depends, HTTPException, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._errors import LivevecError

LOOPBACK = ("localhost", "127.0.0.0/8", "::1")
IMPORT_PATH = "/products/import"  # the one route whose body may be larger than the others'
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class Hosts:
    """The names and addresses a Host header may name: exact names, or IP networks ("10.0.0.0/8")."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.names: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allowed:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self.names.add(entry.lower().rstrip("."))

    def allow(self, host_header: str) -> bool:
        host = _hostname(host_header)
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return bool(host) and host in self.names
        return any(address in network for network in self.networks)


def _hostname(host_header: str) -> str:
    """The host of a Host header, without its port: "[::1]:8000" -> "::1"."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")]
    name, _, port = host.rpartition(":")
    return (name if port.isdigit() else host).rstrip(".")


class Guard:
    """The middleware: Host, Origin and size checks on every request, security headers on every answer."""

    def __init__(self, app: ASGIApp, *, hosts: Hosts, max_body: int, max_import: int) -> None:
        self.app = app
        self.hosts = hosts
        self.max_body = max_body
        self.max_import = max_import

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)  # the API docs page sets its own
                headers.update(HEADERS)
            await send(message)

        headers = Headers(scope=scope)
        host = headers.get("host", "")
        origin = headers.get("origin")
        limit = self.max_import if _route_path(scope) == IMPORT_PATH else self.max_body
        length = headers.get("content-length", "")
        if not self.hosts.allow(host):
            refusal = 400, f"this server does not answer to the host {host!r} (see --allowed-host)"
        elif not _utf8_path(scope):
            # the server would decode it with replacement characters: different bytes, one id
            refusal = 400, "the path is not valid UTF-8 once percent-decoded"
        elif origin is not None and origin.lower().partition("://")[2] != host.lower():
            refusal = 403, f"cross-site request refused: {origin!r} is not this server's page"
        elif length.isdigit() and (len(length) > 18 or int(length) > limit):  # int() of 5000 digits fails
            refusal = 413, f"the body is {length} bytes; this server takes at most {limit}"
        else:
            await self.app(scope, _capped(receive, limit), send_with_headers)
            return
        status, detail = refusal
        await JSONResponse({"detail": detail}, status)(scope, receive, send_with_headers)


def _utf8_path(scope: Scope) -> bool:
    """Is the request's path, percent-decoded, valid UTF-8?"""
    raw = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    try:
        unquote_to_bytes(raw.partition(b"?")[0]).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _route_path(scope: Scope) -> str:
    """The path the app's routes see: without the prefix it is mounted at, if any."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _capped(receive: Receive, limit: int) -> Receive:
    """`receive`, refusing (413) a body whose chunks add up to more than `limit` bytes."""
    received = 0

    async def receive_at_most() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            # FastAPI lets an HTTPException raised while it reads the body through as the answer
            raise HTTPException(413, f"the body is larger than {limit} bytes, the most this server takes")
        return message

    return receive_at_most


def documented_content_type(request: Request) -> None:
    """A request body must be of a type its route documents (415); JSON for a route with a JSON body."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    if route.body_field is not None:
        accepted: Iterable[str] = ("application/json",)
    else:
        accepted = (route.openapi_extra or {}).get("requestBody", {}).get("content", {})
    has_body = "transfer-encoding" in request.headers or request.headers.get("content-length", "0") != "0"
    given = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if accepted and has_body and given not in accepted:
        wanted = " or ".join(accepted)
        raise HTTPException(415, f"send the body as {wanted}, not {given or 'no Content-Type'}")


_bearer = HTTPBearer(
    auto_error=False,
    description="the token the server was started with (`livevec serve --token`, or LIVEVEC_TOKEN)",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
# OpenAPI for a route that takes the token but serves a request without it too: one more, empty, option
OPTIONAL_TOKEN = {"security": [{}]}


def holds_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> bool:
    """Whether the request brings the server's token (compared in constant time); False if it has none."""
    token: str | None = request.app.state.token
    if token is None or credentials is None:
        return False
    return hmac.compare_digest(credentials.credentials.encode(), token.encode())


def service_only(request: Request, credentials: Credentials) -> None:
    """What only the shop's own backend may do (the catalog's writes, the list of shoppers, minting
    shopper tokens) needs the token, if the server has one (401)."""
    if request.app.state.token is not None and not holds_token(request, credentials):
        message = "this server wants its token: send Authorization: Bearer <token>"
        if credentials is not None:
            message = "the token is not this server's"
        raise HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def check_token(token: str | None) -> None:
    """Refuse a token that cannot travel in a header as given: it must be visible ASCII."""
    if token is not None and not re.fullmatch(r"[\x21-\x7e]+", token):
        raise LivevecError("the token must be visible ASCII (letters, digits, punctuation), and not empty")


def inline_script_policy(html: str) -> str:
    """The page CSP, letting a page of others (the API docs) run its own inline scripts, by hash;
    everything else it loads comes from this server."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    )
    return f"{CSP}; script-src 'self' {hashes}; style-src 'self'; img-src 'self' data:"
