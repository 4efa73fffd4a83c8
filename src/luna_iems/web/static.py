"""The built web app under `/`: static files with cache headers and the single-page-app fallback.

One route, added after every API route, answers GET and HEAD for paths whose first segment no API route
owns: a file of the build when one exists (`/assets/*` are content-hashed, so cached for a year;
everything else, `index.html` above all, is revalidated on every load), else, for `/` and for a browser
that asks for a page (`Accept: text/html`), `index.html`, so a client route (`/console/system`) survives
a reload. API paths keep their JSON answers, and so does an unknown path a script asks for (a JSON 404).
Without a build, those pages are a short page that says how to build the app.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from starlette.datastructures import Headers, URLPath
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
HASHED_DIR = "assets"  # Vite's output folder for content-hashed files
UI_METHODS = frozenset({"GET", "HEAD"})


def not_built_page(web_dir: Path) -> str:
    """What `/` shows when the app has not been built: how to build it, and where the API is."""
    where = html.escape(str(web_dir))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Luna-IEMS</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;
background:#0f172a;color:#e2e8f0}}code{{background:#1e293b;padding:.1rem .3rem;border-radius:.2rem}}
a{{color:#7dd3fc}}</style></head>
<body><h1>Luna-IEMS</h1>
<p>The API is running, but the web app has not been built: there is no <code>index.html</code> in
<code>{where}</code> (the setting <code>WEB_DIR</code>).</p>
<p>Build it with <code>make web</code> (or <code>make run</code>, which builds it when its sources
changed), or by hand: <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>. Node.js 20.19
or newer is needed.</p>
<p>The API itself works without it: <a href="/openapi.json">/openapi.json</a>,
<a href="/health/ready">/health/ready</a>.</p>
</body></html>
"""


def wants_page(scope: Scope) -> bool:
    """`/`, or a request that asks for HTML (a browser navigating; scripts send `*/*` or JSON)."""
    if scope["path"] == "/":
        return True
    accept = Headers(scope=scope).get("accept", "")
    return "text/html" in accept


class WebFiles(StaticFiles):
    """StaticFiles with cache headers by kind of file and `index.html` for client routes."""

    def __init__(self, web_dir: Path) -> None:
        super().__init__(directory=web_dir, check_dir=False)
        self.web_dir = web_dir

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            # A missing file (a name with a suffix: an old hashed asset, a typo) stays a 404, so a
            # browser never runs index.html as a script; so does any path a script asks for (the
            # API's JSON 404). A page a browser navigates to is a client route.
            if exc.status_code != 404 or PurePosixPath(path).suffix or not wants_page(scope):
                raise
            response = await super().get_response("index.html", scope)
        first = PurePosixPath(path).parts[0] if PurePosixPath(path).parts else ""
        is_hashed = first == HASHED_DIR and response.status_code in {200, 304}
        response.headers["Cache-Control"] = IMMUTABLE if is_hashed else REVALIDATE
        return response


class WebAppRoute(BaseRoute):
    """The last route of the app: GET/HEAD of every path outside the API's own first segments."""

    # The label of these requests in metrics and logs (one, whatever the path).
    path = "/{web_path:path}"

    def __init__(self, *, web_dir: Path, api_paths: Callable[[], Iterable[str]]) -> None:
        self.web_dir = web_dir
        self.files = WebFiles(web_dir)
        self._api_paths = api_paths
        self._reserved: frozenset[str] | None = None

    def reserved_segments(self) -> frozenset[str]:
        """First path segments that belong to the API (`admin`, `kpis`, `docs`, `openapi.json`, ...),
        computed once, at the first request (every route exists by then)."""
        if self._reserved is None:
            segments = {path.strip("/").split("/", 1)[0] for path in self._api_paths()}
            segments = {s for s in segments if s and not s.startswith("{")}
            self._reserved = frozenset(segments)
        return self._reserved

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] not in UI_METHODS:
            return Match.NONE, {}
        first = str(scope["path"]).lstrip("/").split("/", 1)[0]
        if first in self.reserved_segments():
            return Match.NONE, {}
        return Match.FULL, {"route": self, "path_params": {}}

    def url_path_for(self, name: str, /, **path_params: object) -> URLPath:
        raise NoMatchFound(name, {k: str(v) for k, v in path_params.items()})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (self.web_dir / "index.html").is_file():
            if not wants_page(scope):
                raise HTTPException(status_code=404)
            response: Response = HTMLResponse(
                not_built_page(self.web_dir), headers={"Cache-Control": REVALIDATE}
            )
            await response(scope, receive, send)
            return
        await self.files(scope, receive, send)
