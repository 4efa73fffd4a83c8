"""Small helpers the HTTP chat clients share for turning failed responses into readable errors."""

from __future__ import annotations

import httpx

EXCERPT_CHARS = 300


def read_quietly(response: httpx.Response) -> None:
    """Drain and close a streamed response whose body only serves an error message."""
    try:
        response.read()
    except httpx.HTTPError:
        pass
    finally:
        response.close()


def excerpt(response: httpx.Response) -> str:
    """The start of a response body on one line ("" when the body was not read)."""
    try:
        text = response.text
    except httpx.ResponseNotRead:
        return ""
    return shorten(text)


def shorten(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"
