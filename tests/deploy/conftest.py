"""Fixtures of the deploy tests: the Compose binary and the stack as compose resolves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.stack import COMPOSE_FILE, compose_binary, load_yaml, read_env_example, resolved_config


@pytest.fixture(scope="session")
def compose_bin() -> Path:
    return compose_binary()


@pytest.fixture(scope="session")
def compose_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compose-home")


@pytest.fixture(scope="session")
def env_example() -> dict[str, str]:
    return read_env_example()


@pytest.fixture(scope="session")
def full_config(compose_bin: Path, compose_home: Path, env_example: dict[str, str]) -> dict[str, Any]:
    """The stack with every profile on, as compose resolves it from .env.example."""
    return resolved_config(compose_bin, compose_home, ["*"])


@pytest.fixture(scope="session")
def raw_compose() -> dict[str, Any]:
    """The compose file as written (before interpolation), where `${VAR:-default}` is still visible."""
    data: dict[str, Any] = load_yaml(COMPOSE_FILE)
    return data
