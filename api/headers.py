"""Security headers on every answer: a pure ASGI middleware, like ``guards.BodyLimit``.

- ``Content-Security-Policy``: the pages load only this site's own files (the CSS,
  panzoom.js, goals.js, the vendored Chart.js) and have no inline script or style,
  so ``'self'`` is the whole policy.  Graphviz's inline SVG uses presentation
  attributes, which CSP does not govern; ``img-src data:`` is for images CSS may
  embed.  The one page with an inline script is FastAPI's Swagger UI at ``/docs``
  (it starts the bundle in a ``<script>`` block): its body is read and the
  block's SHA-256 allowed, so the page runs whatever FastAPI version writes it.
- ``Cache-Control: no-store`` on everything but the static files: pages and answers
  carry case data (or say who may see it) and must not stay in a browser's or a
  proxy's cache.  A route that chose its own caching keeps it, except under the
  paths that carry case data.
- ``X-Frame-Options: DENY`` and ``frame-ancestors 'none'`` (no clickjacking),
  ``X-Content-Type-Options: nosniff``, and ``Referrer-Policy: same-origin``: a case
  page's address never leaves the site, while same-origin form posts keep their
  ``Origin`` header, which the login form checks (``no-referrer`` would make browsers
  send ``Origin: null`` there).
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import Message, Receive, Scope, Send

from .context import HttpMiddleware

_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Swagger UI writes style attributes into the markup it builds.
_DOCS_STYLE = "'self' 'unsafe-inline'"
DOCS = "/docs"
_STATIC = "/static/"
_CASE_DATA = ("/ui", "/cases", "/decide", "/units", "/audit", "/reports")
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def policy(script_hashes: list[str] | None = None) -> str:
    parts = dict(_POLICY)
    if script_hashes is not None:
        parts["script-src"] = " ".join(["'self'", *(f"'sha256-{h}'" for h in script_hashes)])
        parts["style-src"] = _DOCS_STYLE
    return "; ".join(f"{name} {value}" for name, value in parts.items())


POLICY = policy()


def _hashes(body: bytes) -> list[str]:
    return [base64.b64encode(hashlib.sha256(script).digest()).decode() for script in _INLINE_SCRIPT.findall(body)]


def _case_data(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in _CASE_DATA)


class SecurityHeaders(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if path == DOCS:
            await self._docs(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _added(list(message.get("headers") or []), path, POLICY)
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The page is small: hold it back until its inline script can be hashed.
        start: Message | None = None
        body = b""

        async def held(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                body += message.get("body", b"")
                if message.get("more_body", False):
                    return
                if start is None:  # a body before its start: not ASGI; pass it on as it came
                    await send(message)
                    return
                start["headers"] = _added(list(start.get("headers") or []), DOCS, policy(_hashes(body)))
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, held)


def _added(headers: list[tuple[bytes, bytes]], path: str, csp: str) -> list[tuple[bytes, bytes]]:
    names = {name.lower() for name, _ in headers}
    extra = [
        (b"content-security-policy", csp.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]
    headers = [(name, value) for name, value in headers if name.lower() not in {n for n, _ in extra}]
    if not path.startswith(_STATIC) and (_case_data(path) or b"cache-control" not in names):
        headers = [(name, value) for name, value in headers if name.lower() != b"cache-control"]
        extra.append((b"cache-control", b"no-store"))
    return headers + extra
