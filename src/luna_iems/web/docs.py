"""Swagger UI (`/docs`) and ReDoc (`/redoc`) with their scripts from this server, never a CDN.

The offline sites this product runs on cannot reach a CDN, and a docs page that loads its scripts from
one is blank there. The web build copies the scripts of the npm packages `swagger-ui-dist` and `redoc`
into `<WEB_DIR>/api-docs/` (frontend/scripts/copy-api-docs.mjs); the UI route serves them from there.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.responses import HTMLResponse

from luna_iems.web.static import REVALIDATE, not_built_page

ASSETS = "/api-docs"
SWAGGER_JS = f"{ASSETS}/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = f"{ASSETS}/swagger-ui/swagger-ui.css"
REDOC_JS = f"{ASSETS}/redoc/redoc.standalone.js"
FAVICON = "/favicon.svg"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
# Swagger UI would otherwise ask validator.swagger.io to validate the document (an outside host).
SWAGGER_PARAMETERS = {"validatorUrl": None, "persistAuthorization": True}


def _missing(web_dir: Path, asset: str) -> HTMLResponse | None:
    if (web_dir / asset.removeprefix("/")).is_file():
        return None
    return HTMLResponse(not_built_page(web_dir), headers={"Cache-Control": REVALIDATE})


def install_api_docs(app: FastAPI, *, web_dir: Path) -> None:
    """Add /docs, its OAuth2 redirect and /redoc (FastAPI's own are turned off in `create_app`)."""
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _missing(web_dir, SWAGGER_JS) or get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - API docs",
            swagger_js_url=SWAGGER_JS,
            swagger_css_url=SWAGGER_CSS,
            swagger_favicon_url=FAVICON,
            oauth2_redirect_url=OAUTH2_REDIRECT,
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _missing(web_dir, REDOC_JS) or get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - API reference",
            redoc_js_url=REDOC_JS,
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )
