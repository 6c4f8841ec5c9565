"""Configuration: one ``Settings`` object from ``CHUNKUP_*`` variables and CLI flags.

Everything has an embedded default so that a fresh install runs with no
configuration: the database and storage live under ``data_dir``.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024
WEBHOOK_EVENTS = ("media.created", "media.deleted", "upload.expired")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHUNKUP_", extra="ignore")

    data_dir: Path = Path("chunkup-data")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; default: SQLite file in data_dir"
    )
    storage_url: str | None = Field(None, description="default: file://<data_dir>/storage")
    public_url: str | None = Field(
        None,
        description="Base URL of file links, e.g. https://media.example.com; "
        "default: the URL the request came in on",
    )
    file_urls: str = Field(
        "node",
        pattern="^(node|presigned|public)$",
        description="node: served through chunkup; presigned: time-limited storage URLs; "
        "public: file_url_base + key (a public bucket or a CDN in front of it)",
    )
    file_url_base: str | None = Field(None, description="base of public file URLs")
    presigned_ttl: timedelta = timedelta(hours=1)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    migrate_on_start: bool = True

    jwt_secret: SecretStr | None = Field(
        None, description="HS256 secret; default: generated into data_dir/jwt-secret"
    )
    jwt_algorithm: str = Field("HS256", pattern="^(HS256|RS256|ES256)$")
    jwt_public_key: str | None = Field(None, description="PEM key for RS256/ES256")
    jwks_url: str | None = Field(None, description="JWKS URL for RS256/ES256")

    chunk_max_bytes: int = Field(204800, gt=0)
    image_max_bytes: int = Field(5 * MiB, gt=0)
    document_max_bytes: int = Field(50 * MiB, gt=0)
    image_max_pixels: int = Field(
        40_000_000, gt=0, description="decompression-bomb ceiling (decoding costs ~4 B/pixel)"
    )
    strip_image_metadata: bool = Field(
        True,
        description="remove EXIF (GPS, camera), XMP, IPTC and comments from stored images, "
        "keeping the ICC profile and the orientation; the pixels are not re-encoded",
    )
    upload_ttl: timedelta = timedelta(hours=24)
    expired_retention: timedelta = timedelta(days=7)
    gc_interval: timedelta = timedelta(minutes=5)

    body_timeout: float = Field(
        30.0, gt=0, description="seconds a request body may stall before it is cut off (408)"
    )
    rate_limit_per_second: float = Field(
        1000.0, ge=0, description="sustained requests per user and node; 0: no limit"
    )
    rate_limit_burst: int = Field(2000, ge=1, description="requests a user may send at once")
    max_open_uploads: int = Field(
        200, ge=1, description="unfinished uploads one user may have at once"
    )
    max_open_bytes: int = Field(
        10 * 1024 * MiB,
        ge=1,
        description="declared bytes of one user's unfinished uploads, plus what their chunks "
        "take in storage beyond that (uploads/usage.py)",
    )
    log_level: str = Field("info", pattern="^(debug|info|warning|error)$")
    log_format: str = Field("json", pattern="^(json|text)$")
    cors_origins: list[str] = ["*"]
    fsync: bool = Field(False, description="fsync every stored chunk (power-loss safety)")
    otel: bool = Field(
        False,
        description="let FastAPI trace requests through an OpenTelemetry SDK set up in the "
        "process (opentelemetry-instrument); off, it does not look for one on every request",
    )
    dev: bool = Field(
        False,
        description="development mode: the web page offers a dev token (POST /dev/token mints "
        "one for user 1 without credentials); never in production",
    )
    pdf_memory_limit_mb: int = Field(
        256,
        ge=128,  # Python with pypdf and PDFium loaded needs about 70 MiB of address space
        description="address space of the child process that parses and renders a PDF "
        "(RLIMIT_AS); a PDF that needs more is refused or left without a preview",
    )
    pdf_time_limit_s: float = Field(
        10.0,
        gt=0,
        description="wall-clock seconds a PDF's parse and first-page render may take before "
        "the child process doing them is killed",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="bearer token a scrape of /metrics must send; unset: /metrics is open "
        "(then keep it off the public side of the balancer)",
    )
    upload_max_ranges: int = Field(
        64,
        ge=1,
        description="disjoint byte ranges one unfinished upload may hold (its gaps bound the "
        "work of every chunk and the status answer); a chunk that would make one more is "
        "400 too_many_ranges",
    )
    upload_chunk_factor: int = Field(
        8,
        ge=1,
        description="an upload may be stored in at most this many times the chunks its size "
        "needs at chunk_max_bytes, plus one such allowance (every object costs at least a "
        "4 KiB block); one more is 400 too_many_chunks",
    )

    webhook_urls: str = Field(
        "", description="comma-separated URLs that receive webhook events; empty: no webhooks"
    )
    webhook_secret: SecretStr | None = Field(
        None, description="whsec_<base64>: the Standard Webhooks secret events are signed with"
    )
    webhook_events: str = Field(
        "media.created,media.deleted,upload.expired",
        description="comma-separated event types to send (the others are not recorded)",
    )
    webhook_timeout: float = Field(
        10.0, gt=0, description="seconds one delivery attempt may take, answer included"
    )
    webhook_concurrency: int = Field(8, ge=1, description="deliveries in flight at once per node")
    webhook_retry_horizon: timedelta = Field(
        timedelta(hours=24),
        description="how long an event is retried before it is marked failed",
    )
    webhook_retry_base: timedelta = Field(
        timedelta(seconds=5), description="delay before the first retry (doubled each time)"
    )
    webhook_retry_max: timedelta = Field(
        timedelta(hours=1), description="longest delay between two attempts"
    )
    webhook_poll_interval: float = Field(
        1.0, gt=0, description="seconds between two looks for due events"
    )
    hook_pre_create_url: str | None = Field(
        None, description="URL asked before an upload is created; a 4xx refuses it"
    )
    hook_timeout: float = Field(5.0, gt=0, description="seconds the pre-create hook may take")
    hook_failure: str = Field(
        "refuse",
        pattern="^(allow|refuse)$",
        description="what a pre-create hook that fails (timeout, 5xx, unreachable) means",
    )
    http_max_head_bytes: int = Field(
        16 * 1024, ge=1024, description="request line and headers, in bytes (431 past it)"
    )
    http_max_header_fields: int = Field(
        100, ge=8, description="header fields in one request (431 past it)"
    )
    http_max_url_bytes: int = Field(8 * 1024, ge=256, description="request URL (414 past it)")
    http_header_timeout: float = Field(
        10.0, gt=0, description="seconds for a request's headers to arrive (408 and close)"
    )
    http_keep_alive_timeout: float = Field(
        5.0, gt=0, description="seconds an idle keep-alive connection stays open"
    )
    http_max_connections: int = Field(
        1000,
        ge=1,
        description="open connections per worker; at the cap the longest-idle one is closed",
    )
    http_min_body_rate: float = Field(
        500.0,
        ge=0,
        description="bytes a second a request body must average once it has had body_timeout "
        "seconds (408 and close); 0: no minimum",
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.jwt_algorithm != "HS256" and not (self.jwt_public_key or self.jwks_url):
            raise ValueError("RS256/ES256 need jwt_public_key or jwks_url")
        if self.file_urls == "public" and not self.file_url_base:
            raise ValueError("file_urls=public needs file_url_base")
        if self.upload_ttl <= timedelta(0):
            raise ValueError("upload_ttl must be positive")
        if self.dev and self.jwt_algorithm != "HS256":
            raise ValueError("dev mode mints HS256 tokens: it needs jwt_algorithm HS256")
        return self

    @model_validator(mode="after")
    def _check_webhooks(self) -> Settings:
        from chunkup.webhooks.signing import parse_secret  # the one parser of whsec_ secrets

        if self.webhook_secret is not None:
            parse_secret(self.webhook_secret.get_secret_value())
        elif self.webhook_url_list:
            raise ValueError("webhook_urls needs webhook_secret (whsec_<base64>)")
        unknown = set(self.webhook_event_list) - set(WEBHOOK_EVENTS)
        if unknown:
            raise ValueError(f"unknown webhook events: {', '.join(sorted(unknown))}")
        if self.webhook_retry_horizon < timedelta(0):
            raise ValueError("webhook_retry_horizon must not be negative")
        return self

    @property
    def webhook_url_list(self) -> list[str]:
        return [url.strip() for url in self.webhook_urls.split(",") if url.strip()]

    @property
    def webhook_event_list(self) -> list[str]:
        return [name.strip() for name in self.webhook_events.split(",") if name.strip()]

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'chunkup.db').resolve()}"

    @property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.data_dir / "storage").resolve().as_uri()

    def as_environment(self) -> dict[str, str]:
        """These settings as ``CHUNKUP_*`` variables, for worker processes to read back."""
        environment = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None:
                continue
            if name == "data_dir":
                value = str(self.data_dir.resolve())
            elif isinstance(secret := getattr(self, name), SecretStr):
                value = secret.get_secret_value()
            elif not isinstance(value, str):
                value = json.dumps(value)
            if value is not None:
                environment[f"CHUNKUP_{name.upper()}"] = value
        return environment
