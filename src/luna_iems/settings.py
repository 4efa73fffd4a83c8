"""The one place that reads the environment (and `.env`).

Every setting has an environment variable of the same name in upper case (see `.env.example`).
A backend URL left empty selects the embedded default for that concern; `bootstrap.py` is the only
module that turns these settings into concrete adapters.
"""

from __future__ import annotations

from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_POSTGRES_PASSWORD = "luna"  # noqa: S105 - .env.example's value, refused in production
DEV_MQTT_BROKER_PASSWORD = "luna"  # noqa: S105 - .env.example's value, refused in production
DEV_GRAFANA_ADMIN_PASSWORD = "admin"  # noqa: S105 - Grafana's own default, refused in production
DEV_GRAFANA_DB_PASSWORD = "luna"  # noqa: S105 - .env.example's value, refused in production

Environment = Literal["development", "test", "production"]
# The web app's build in a source checkout (src/luna_iems/settings.py -> <repo>/frontend/dist).
REPO_WEB_DIR = Path(__file__).resolve().parents[2] / "frontend" / "dist"


class UnsafeSettingsError(ValueError):
    """A setting keeps an unsafe default in an environment where that is not allowed."""


class Settings(BaseSettings):
    """Typed configuration. Construct with keyword overrides in tests: `Settings(database_url=...)`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- deployment -----------------------------------------------------------------------
    environment: Environment = "development"
    project_name: str = "luna-iems"
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8001, ge=1, le=65535)
    data_dir: Path = Path("var")
    apply_migrations: bool = True
    seed_demo_data: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    # The built web app (frontend/dist), served under `/`; empty: the repository's frontend/dist.
    web_dir: Path | None = None

    # --- security -------------------------------------------------------------------------
    luna_admin_key: SecretStr | None = None
    luna_max_upload_mb: float = Field(default=50, gt=0)
    # Refused writes without a key: audited one by one up to this many per minute, then summarised.
    audit_anonymous_per_minute: int = Field(default=30, ge=0, le=10_000)

    # --- relational + time series ---------------------------------------------------------
    database_url: str | None = None  # empty: SQLite file under data_dir
    db_pool_size: int = Field(default=10, ge=1)
    db_pool_timeout_s: float = Field(default=30, gt=0)
    db_echo: bool = False

    # --- energy data -------------------------------------------------------------------------
    timezone: str = "Europe/Berlin"  # the site's calendar: daily/weekly/monthly buckets and KPIs
    default_market: str = "DE-LU"
    default_product: str = "day_ahead"
    raw_retention_days: int = Field(default=0, ge=0)  # 0: keep raw readings forever; rollups always stay
    rollup_interval_s: float = Field(default=30, gt=0)
    retention_interval_s: float = Field(default=3600, gt=0)
    enable_scheduler: bool = True
    sim_config_path: Path = Path("config/sim.yml")
    mqtt_url: str | None = None  # e.g. mqtt://user:pass@broker:1883; empty: no MQTT subscriber
    mqtt_topics: str = "luna/readings/#,luna/batteries/#,tele/+/SENSOR"
    mqtt_client_id: str = "luna-iems"
    mqtt_reconnect_max_s: float = Field(default=60, gt=0)

    # --- vectors and embeddings ------------------------------------------------------------
    qdrant_url: str | None = None  # empty: embedded index under data_dir
    qdrant_api_key: SecretStr | None = None
    vector_collection_prefix: str = "luna_chunks"
    embedding_backend: Literal["auto", "local", "ollama"] = "auto"
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_batch_size: int = Field(default=32, ge=1)

    # --- knowledge: chunking, retrieval, answers -------------------------------------------
    chunk_max_tokens: int = Field(default=200, ge=32, le=254)  # word pieces incl. the heading prefix
    chunk_overlap_tokens: int = Field(default=32, ge=0, le=128)
    retrieval_candidates: int = Field(default=50, ge=5, le=1000)  # per ranking, before fusion
    rrf_k: int = Field(default=60, ge=1)
    # Weight of the dense ranking in the fusion for German queries: all-MiniLM-L6-v2 is an English
    # model, so for German its ranking is the weaker one (1.0 with a multilingual embedder). 0.1 was
    # chosen on the dev split of the German law questions (benchmarks/retrieval_german.py).
    dense_weight_german: float = Field(default=0.1, ge=0, le=1)
    # Split German query compounds into parts the lexical index knows (knowledge/german.py).
    split_compounds: bool = True
    # At most this many chunks of one "§" section of one document in search results (and so in the
    # sources of an answer); the section ranks by its best chunk. 0 = no limit. Chunks without a
    # section are never collapsed.
    max_chunks_per_section: int = Field(default=1, ge=0, le=50)
    rag_top_k: int = Field(default=5, ge=1, le=50)
    generator_backend: Literal["auto", "ollama", "openai", "extractive"] = "auto"
    generator_max_tokens: int = Field(default=512, ge=16, le=8192)
    generator_temperature: float = Field(default=0.2, ge=0, le=2)
    generator_timeout_s: float = Field(default=120, gt=0)
    openai_base_url: str | None = None  # e.g. http://vllm:8000/v1 (vLLM, llama.cpp server, OpenAI)
    openai_api_key: SecretStr | None = None
    openai_model: str = "gpt-4o-mini"
    embedding_warmup: bool = True  # load the local model in the background at start
    reconcile_on_start: bool = True  # remove vectors/files a crashed ingest left (knowledge/reconcile.py)

    # --- decisions: forecasts, optimiser, rules, scenarios, anomalies -----------------------
    forecast_history_days: int = Field(default=28, ge=2, le=365)  # history a forecast learns from
    # Optimiser and what-if of a site without a stored tariff (tariffs/, docs/tariffs.md):
    import_markup_eur_kwh: float = 0.15  # grid fees, levies and taxes on top of the spot price
    export_tariff_eur_kwh: float | None = None  # fixed feed-in tariff; empty: the spot price
    co2_intensity_g_kwh: float = Field(default=380, ge=0)  # grid import, gCO2eq/kWh (DE mix ~2024)
    optimizer_time_limit_s: float = Field(default=10, gt=0, le=300)
    rules_interval_s: float = Field(default=300, gt=0)  # scheduled rule evaluation
    anomaly_interval_s: float = Field(default=900, gt=0)  # scheduled anomaly detection
    anomaly_window_h: int = Field(default=48, ge=6, le=24 * 31)  # how far back each run looks

    # --- telemetry: recommendations (POST /recommend, docs/learning.md) ---------------------
    recommend_policy: Literal["content", "linucb", "thompson"] = "linucb"  # + content at cold start
    recommend_alpha: float = Field(default=1.0, ge=0, le=10)  # LinUCB exploration width
    recommend_thompson_v: float = Field(default=0.3, gt=0, le=10)  # Thompson sampling posterior scale
    recommend_seed: int = Field(default=0, ge=0)  # Thompson sampling draws are seeded by it (reproducible)

    # --- telemetry: DP export of aggregates and priors (POST /learn/*, docs/learning.md) -----
    learn_epsilon: float = Field(default=1.0, gt=0, le=10)  # ε of one export (Laplace noise ∝ 1/ε)
    learn_epsilon_budget: float = Field(default=3.0, gt=0, le=100)  # ε per calendar month (and bandit)
    learn_export_dir: Path | None = None  # empty: <DATA_DIR>/learn/exports
    learn_export_url: str | None = None  # `send: true` POSTs the signed file here
    learn_export_token: SecretStr | None = None  # sent as "Authorization: Bearer <token>"
    learn_trusted_keys: str = ""  # comma list: public keys (base64) or their SHA-256 fingerprints
    learn_prior_weight: float = Field(default=0.5, ge=0, le=1)  # weight of imported bandit priors

    # --- integrations: live stream (GET /stream/readings) ------------------------------------
    # How often the stream looks for new readings, alerts and setpoints while anyone listens.
    stream_poll_s: float = Field(default=1.0, gt=0, le=60)

    # --- integrations: dispatch -------------------------------------------------------------
    # MQTT publishing (setpoints, Home Assistant discovery) uses MQTT_URL with client id MQTT_CLIENT_ID-pub.
    mqtt_availability_topic: str = "luna/status"  # birth "online" / last will "offline", retained
    mqtt_publish_timeout_s: float = Field(default=5, gt=0)  # broker acknowledgement (QoS 1)
    # Setpoints of an activated plan go to <DISPATCH_TOPIC_PREFIX>/<device> at each step's start; off:
    # `activate: true` is refused. Needs MQTT_URL.
    dispatch_enabled: bool = False
    dispatch_topic_prefix: str = Field(default="luna/setpoints", pattern=r"^[^#+\s]+$")  # no MQTT wildcards
    dispatch_replan_minutes: int = Field(default=0, ge=0, le=24 * 60)  # 0: no scheduled re-plan
    # A plan whose inputs are older than this stops dispatching (devices are released) and alerts.
    dispatch_max_plan_age_minutes: float = Field(default=180, gt=0, le=7 * 24 * 60)
    dispatch_site: str = "default"  # the site Home Assistant's KPI, price and alert sensors describe
    # Home Assistant MQTT discovery (homeassistant/<component>/<node>/<object>/config, retained).
    ha_discovery_enabled: bool = False
    ha_discovery_prefix: str = Field(default="homeassistant", pattern=r"^[^#+\s]+$")
    ha_node_id: str = Field(default="luna_iems", pattern=r"^[A-Za-z0-9_-]+$")
    ha_state_interval_s: float = Field(default=60, gt=0)  # how often the sensor states are published

    # --- integrations: notifications ---------------------------------------------------------
    # Alerts and rule firings out: webhooks (created by an admin, none by default) and MQTT (only with
    # MQTT_URL). One job feeds the outbox from the alerts table and delivers what is due; 0: off.
    notify_interval_s: float = Field(default=5, ge=0)
    # Channels of anomaly alerts and of rules without their own: "webhook" (every webhook whose
    # filter matches), "webhook:<id>", "mqtt"; comma-separated, empty: none.
    notify_default_channels: str = "webhook,mqtt"
    notify_max_attempts: int = Field(default=8, ge=1, le=100)  # then the delivery is a dead letter
    notify_backoff_base_s: float = Field(default=10, gt=0)  # retry n waits base·2^(n-1), jittered
    notify_backoff_max_s: float = Field(default=3600, gt=0)  # ... at most this long
    notify_timeout_s: float = Field(default=10, gt=0)  # one webhook POST
    notify_batch_size: int = Field(default=100, ge=1, le=10_000)  # events and deliveries per run
    # On the first run only: alerts raised this many hours back are announced too (0: from now on).
    notify_backfill_h: float = Field(default=1, ge=0, le=24 * 7)

    @field_validator("notify_default_channels")
    @classmethod
    def _known_channels(cls, value: str) -> str:
        # The same forms as integrations/notify/channels.py (settings import no domain).
        for item in filter(None, (part.strip().lower() for part in value.split(","))):
            if item not in {"webhook", "mqtt"} and not item.startswith("webhook:"):
                raise ValueError(
                    f"NOTIFY_DEFAULT_CHANNELS: unknown channel {item!r}: use webhook, mqtt or webhook:<id>"
                )
        return value

    # --- integrations: price fetching ---------------------------------------------------------
    # Day-ahead prices pulled into the price table (docs/integrations/prices.md). ENTSO-E
    # Transparency: off while ENTSOE_TOKEN is empty. A generic URL source: off while
    # PRICE_SOURCE_URL is empty. Both store through the upload endpoints' ingest (idempotent).
    entsoe_token: SecretStr = SecretStr("")
    entsoe_area: str = Field(default="10Y1001A1001A82H", min_length=16, max_length=16)  # EIC; DE-LU
    entsoe_url: str = "https://web-api.tp.entsoe.eu/api"
    price_source_url: str | None = None  # GET, answering CSV or JSON rows like POST /ingest/market-prices
    price_source_format: Literal["csv", "json"] = "csv"
    # Day-ahead results appear ~12:45 CET: from PRICE_FETCH_AFTER (local time in PRICE_FETCH_TIMEZONE)
    # tomorrow's prices are fetched every PRICE_FETCH_RETRY_MIN until complete; still incomplete at
    # PRICE_FETCH_CUTOFF raises a "late" alert (attempts go on hourly until the day starts).
    price_fetch_timezone: str = "Europe/Berlin"
    price_fetch_after: time = time(13, 0)
    price_fetch_cutoff: time = time(18, 0)
    price_fetch_retry_min: float = Field(default=15, gt=0, le=24 * 60)
    price_fetch_backoff_max_min: float = Field(default=120, gt=0, le=24 * 60)  # 429/5xx: doubling up to this

    @field_validator("price_source_url", mode="before")
    @classmethod
    def _blank_url_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    # --- integrations: field devices ---------------------------------------------------------
    # Modbus TCP meters, inverters and batteries (SunSpec or register maps; docs/integrations/devices.md).
    # The device file lists them; while it does not exist nothing is polled. Templates of one's own
    # (*.yml) in DEVICES_TEMPLATES_DIR add to the shipped ones (same name: one's own wins).
    devices_config_path: Path = Path("config/devices.yml")
    devices_templates_dir: Path | None = None
    devices_backoff_max_s: float = Field(default=300, gt=0)  # a dead device is retried at most this rarely
    devices_flush_interval_s: float = Field(default=1, gt=0, le=60)  # polled values written per batch

    # --- model serving / extraction / files -----------------------------------------------
    ollama_url: str | None = None
    ollama_embed_model: str = "nomic-embed-text"
    ollama_chat_model: str = "llama3.1:8b"
    tika_url: str | None = None
    s3_endpoint_url: str | None = None  # empty: local directory under data_dir
    s3_bucket: str = "luna-iems"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    http_timeout_s: float = Field(default=5.0, gt=0)

    # --- backups ---------------------------------------------------------------------------
    backup_dir: Path | None = None  # empty: <DATA_DIR>/backups
    backup_interval_h: float = Field(default=0, ge=0)  # scheduled backups; 0: off
    backup_keep: int = Field(default=7, ge=1)  # the scheduled job keeps the newest N backups
    pg_bin_dir: Path | None = None  # pg_dump/pg_restore; empty: /usr/lib/postgresql/<newest>/bin, PATH

    @field_validator(
        "backup_dir", "pg_bin_dir", "web_dir", "devices_templates_dir", "learn_export_dir", mode="before"
    )
    @classmethod
    def _blank_path_is_unset(cls, value: object) -> object:
        # `BACKUP_DIR=` means "the default", not the current directory (Path("") is ".").
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def resolved_web_dir(self) -> Path:
        return self.web_dir if self.web_dir is not None else REPO_WEB_DIR

    @property
    def resolved_backup_dir(self) -> Path:
        return self.backup_dir if self.backup_dir is not None else self.data_dir / "backups"

    @property
    def resolved_learn_export_dir(self) -> Path:
        default = self.data_dir / "learn" / "exports"
        return self.learn_export_dir if self.learn_export_dir is not None else default

    # --- compose stack: published ports, accounts and optional profiles -----------------------
    # Ports are published on 127.0.0.1 (the API's on API_HOST); deploy/compose.yml has no default
    # passwords, the development values below come from .env.example.
    postgres_port: int = 8301
    postgres_user: str = "luna"
    postgres_password: SecretStr = SecretStr(DEV_POSTGRES_PASSWORD)
    postgres_db: str = "luna"
    mqtt_port: int = 1883
    mqtt_broker_user: str = "luna"  # the in-stack broker's account; compose builds MQTT_URL from it
    mqtt_broker_password: SecretStr = SecretStr(DEV_MQTT_BROKER_PASSWORD)
    qdrant_http_port: int = 6333
    qdrant_grpc_port: int = 6334
    minio_api_port: int = 9000
    minio_console_port: int = 9001
    ollama_port: int = 11434
    tika_port: int = 9998
    grafana_port: int = 3000
    loki_port: int = 3100
    prometheus_port: int = 9090
    grafana_admin_user: str = "admin"
    grafana_admin_password: SecretStr = SecretStr(DEV_GRAFANA_ADMIN_PASSWORD)
    grafana_db_password: SecretStr = SecretStr(DEV_GRAFANA_DB_PASSWORD)  # Grafana's read-only DB role
    enable_observability: bool = False
    enable_minio: bool = False

    @field_validator("export_tariff_eur_kwh", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `EXPORT_TARIFF_EUR_KWH=` (as in .env.example) means "no fixed tariff", not a parse error.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.environment == "development":
            return self
        problems = []
        if self.database_url and f":{DEV_POSTGRES_PASSWORD}@" in self.database_url:
            problems.append("DATABASE_URL uses the development password 'luna'")
        if self.postgres_password.get_secret_value() == DEV_POSTGRES_PASSWORD and self.database_url:
            problems.append("POSTGRES_PASSWORD still has the development default")
        if self.mqtt_url and f":{DEV_MQTT_BROKER_PASSWORD}@" in self.mqtt_url:
            problems.append("MQTT_URL uses the development password (MQTT_BROKER_PASSWORD in the stack)")
        if self.enable_observability:
            if self.grafana_admin_password.get_secret_value() == DEV_GRAFANA_ADMIN_PASSWORD:
                problems.append("GRAFANA_ADMIN_PASSWORD is Grafana's default 'admin'")
            if self.grafana_db_password.get_secret_value() == DEV_GRAFANA_DB_PASSWORD:
                problems.append("GRAFANA_DB_PASSWORD still has the development default")
        if self.environment == "production" and problems:
            raise UnsafeSettingsError(
                f"refusing to start with ENVIRONMENT={self.environment}: " + "; ".join(problems)
            )
        return self

    # --- derived values (no I/O) ------------------------------------------------------------
    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # Accept the common shorthand and pin the psycopg 3 driver.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return f"sqlite:///{(self.data_dir / 'luna.db').as_posix()}"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.luna_max_upload_mb * 1024 * 1024)

    def published_ports(self) -> dict[str, int]:
        """Every port the compose stack would publish for this configuration, by service."""
        ports = {
            "api": self.api_port,
            "postgres": self.postgres_port,
            "qdrant-http": self.qdrant_http_port,
            "qdrant-grpc": self.qdrant_grpc_port,
            "ollama": self.ollama_port,
            "tika": self.tika_port,
            "mqtt": self.mqtt_port,
        }
        if self.enable_minio:
            ports |= {"minio-api": self.minio_api_port, "minio-console": self.minio_console_port}
        if self.enable_observability:
            ports |= {
                "grafana": self.grafana_port,
                "loki": self.loki_port,
                "prometheus": self.prometheus_port,
            }
        return ports


def get_settings() -> Settings:
    """Read settings from the environment and `.env` (called once per process by the entry points)."""
    return Settings()
