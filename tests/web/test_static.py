"""The web app under `/`: built files with cache headers, the client-route fallback, API paths untouched,
the page shown before a build, and the self-hosted API docs (no CDN)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from luna_iems.main import create_app
from luna_iems.web import docs
from tests.conftest import ADMIN_TOKEN, auth, make_settings

PAGE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # what a browser sends for a page

INDEX = (
    '<!doctype html><html><head><script type="module" src="/assets/index-1a2b3c.js"></script></head></html>'
)


def build(web_dir: Path) -> Path:
    """A stand-in for `npm run build`: index.html, a hashed asset, the docs scripts, a favicon."""
    (web_dir / "assets").mkdir(parents=True)
    (web_dir / "index.html").write_text(INDEX)
    (web_dir / "assets" / "index-1a2b3c.js").write_text("console.log('luna')")
    (web_dir / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    for asset in (docs.SWAGGER_JS, docs.SWAGGER_CSS, docs.REDOC_JS):
        path = web_dir / asset.removeprefix("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("/* asset */")
    return web_dir


@pytest.fixture
def web_client(
    tmp_path: Path, fresh_database_url: Callable[[str], str], request: pytest.FixtureRequest
) -> Iterator[TestClient]:
    web_dir = tmp_path / "dist"
    if getattr(request, "param", "built") == "built":
        build(web_dir)
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"), web_dir=web_dir)
    with TestClient(create_app(settings)) as client:
        yield client


def test_index_and_client_routes_are_revalidated(web_client: TestClient) -> None:
    for path in ("/", "/console/system", "/smart-meters", "/index.html"):
        response = web_client.get(path, headers=PAGE)
        assert response.status_code == 200, path
        assert response.text == INDEX and response.headers["cache-control"] == "no-cache", path
        assert response.headers["content-type"].startswith("text/html")
    assert web_client.head("/console/keys", headers=PAGE).status_code == 200
    assert web_client.get("/").text == INDEX  # the root, whatever the client accepts
    # A script asking for an unknown path gets the API's JSON 404, not the app.
    script = web_client.get("/console/system")
    assert script.status_code == 404 and "GET /console/system" in script.json()["error"]["message"]


def test_hashed_assets_are_immutable_and_revalidate_with_etags(web_client: TestClient) -> None:
    response = web_client.get("/assets/index-1a2b3c.js")
    assert response.status_code == 200 and response.text == "console.log('luna')"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    again = web_client.get("/assets/index-1a2b3c.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    favicon = web_client.get("/favicon.svg")
    assert favicon.status_code == 200 and favicon.headers["cache-control"] == "no-cache"


def test_a_missing_file_is_a_json_404_not_the_app(web_client: TestClient, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("outside the build")
    for path in (
        "/assets/index-old999.js",
        "/robots.txt",
        "/..%2fsecret.txt",
        "/assets/..%2f..%2fsecret.txt",
    ):
        response = web_client.get(path, headers=PAGE)
        assert response.status_code == 404, path
        assert "error" in response.json(), path
    # A page without a suffix is a client route, wherever it points.
    escaped = web_client.get("/..%2f..%2fetc%2fpasswd", headers=PAGE)
    assert escaped.status_code == 200 and escaped.text == INDEX


def test_api_paths_keep_their_answers(web_client: TestClient) -> None:
    unknown = web_client.get("/admin/no-such-page", headers=PAGE)  # /admin belongs to the API: no fallback
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert web_client.get("/kpis").status_code == 401  # a route, not the app
    assert web_client.get("/health/live").json()["status"] == "ok"
    assert web_client.get("/auth/me", headers=auth(ADMIN_TOKEN)).json()["role"] == "admin"
    # Writes to a client route are no UI request: the API's JSON 404; wrong methods stay 405.
    post = web_client.post("/console/system", headers=PAGE)
    assert post.status_code == 404 and post.json()["error"]["code"] == "not_found"
    put = web_client.put("/kpis")
    assert put.status_code == 405 and put.headers["allow"] == "GET"


def test_web_route_stays_out_of_the_openapi_document_and_metrics_labels(web_client: TestClient) -> None:
    paths = web_client.get("/openapi.json").json()["paths"]
    assert not {"/", "/{web_path}", "/docs", "/redoc"} & set(paths)
    web_client.get("/console/a", headers=PAGE)
    web_client.get("/console/b", headers=PAGE)
    metrics = web_client.get("/metrics").text
    assert 'route="/{web_path:path}"' in metrics and "/console/a" not in metrics


@pytest.mark.parametrize("web_client", ["empty"], indirect=True)
def test_without_a_build_the_root_says_how_to_build(web_client: TestClient) -> None:
    for path in ("/", "/console/system", "/docs", "/redoc"):
        response = web_client.get(path, headers=PAGE)
        assert response.status_code == 200, path
        assert "make web" in response.text and "npm run build" in response.text, path
    assert web_client.get("/admin/nothing", headers=PAGE).status_code == 404
    assert web_client.get("/console/system").status_code == 404  # a script: JSON


EXTERNAL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.IGNORECASE)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_load_everything_from_this_server(web_client: TestClient, path: str) -> None:
    page = web_client.get(path)
    assert page.status_code == 200
    assert not EXTERNAL.findall(page.text), EXTERNAL.findall(page.text)
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assets += re.findall(r"""spec-url=["']([^"']+)["']""", page.text)
    assets += re.findall(r"""url: ['"]([^'"]+)['"]""", page.text)
    assert assets, page.text
    for asset in assets:
        assert asset.startswith("/"), asset
        assert web_client.get(asset).status_code == 200, asset
    if path == "/docs":
        assert '"validatorUrl": null' in page.text
        assert web_client.get("/docs/oauth2-redirect").status_code == 200
