"""The ``chunkup`` command: serve, token, gc, migrate; upload and media (the client)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from chunkup.settings import Settings

app = typer.Typer(
    help="chunkup: chunked media uploads (SelfCommunity v2 media API).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)

# Flags default to None so that the CHUNKUP_* variables (read by Settings) apply when a
# flag is not given; show_default names the default Settings falls back to. Help texts
# say "(env ...)", not "[env ...]": square brackets are markup to typer's rich help.
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where the SQLite database, the stored files and the generated token secret "
        "live (env CHUNKUP_DATA_DIR)",
        show_default="./chunkup-data",
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL, e.g. postgresql+asyncpg://user@host/db (env CHUNKUP_DATABASE_URL)",
        show_default="SQLite file in the data dir",
    ),
]
StorageUrl = Annotated[
    str | None,
    typer.Option(
        "--storage-url",
        help="Where files go: file://, s3://, gs://, az:// (env CHUNKUP_STORAGE_URL)",
        show_default="file://<data dir>/storage",
    ),
]


def _settings(**overrides: Any) -> Settings:
    """Environment first, then the flags that were given."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _parse_ttl(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        if text[-1] in units:
            return int(text[:-1]) * units[text[-1]]
        return int(text)
    except (ValueError, IndexError) as exc:
        raise typer.BadParameter("use a number of seconds or e.g. 30m, 1h, 7d") from exc


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (env CHUNKUP_HOST)", show_default="127.0.0.1"),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (env CHUNKUP_PORT)", show_default="8000")
    ] = None,
    data_dir: DataDir = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="Base of file URLs, e.g. https://media.example.com behind a proxy "
            "(env CHUNKUP_PUBLIC_URL)",
            show_default="the URL a request came in on",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    storage_url: StorageUrl = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            help="debug, info, warning or error (env CHUNKUP_LOG_LEVEL)", show_default="info"
        ),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            help="json (one object per line, with the request id) or text (env CHUNKUP_LOG_FORMAT)",
            show_default="json",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes sharing the port, one database and one storage "
            "(env CHUNKUP_WORKERS)",
            show_default="the number of cores",
        ),
    ] = None,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev",
            help="Development mode: the web page offers a dev token for user 1 to anyone; "
            "never in production (env CHUNKUP_DEV)",
            show_default="off",
        ),
    ] = False,
    max_connections: Annotated[
        int | None,
        typer.Option(
            "--max-connections",
            help="Open connections per worker; at the cap the longest-idle one is closed "
            "(env CHUNKUP_HTTP_MAX_CONNECTIONS)",
            show_default="1000",
        ),
    ] = None,
    header_timeout: Annotated[
        float | None,
        typer.Option(
            "--header-timeout",
            help="Seconds for a request's headers to arrive, then 408 and close "
            "(env CHUNKUP_HTTP_HEADER_TIMEOUT)",
            show_default="10",
        ),
    ] = None,
) -> None:
    """Run the HTTP service (every setting also has a CHUNKUP_* variable: see the README)."""
    import uvicorn

    from chunkup.api import create_app
    from chunkup.api.observability import MULTIPROCESS_ENV, configure_logging, metrics_directory
    from chunkup.api.protocol import uvicorn_options
    from chunkup.memory import tune_malloc
    from chunkup.supervision import mark_supervisor

    settings = _settings(
        host=host,
        port=port,
        data_dir=data_dir,
        public_url=public_url,
        database_url=database_url,
        storage_url=storage_url,
        log_level=log_level,
        log_format=log_format,
        workers=workers,
        dev=dev or None,
        http_max_connections=max_connections,
        http_header_timeout=header_timeout,
    )
    configure_logging(settings.log_level, settings.log_format)
    tune_malloc()  # this process serves when --workers is 1
    server_options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        **uvicorn_options(settings.log_level, settings),
    }
    console.print(
        f"chunkup serving on http://{settings.host}:{settings.port} with "
        f"{settings.workers} worker(s) (data in {settings.data_dir.resolve()})"
    )
    if settings.dev:
        console.print("dev mode: the page at / hands out tokens for user 1 to anyone")
    if settings.workers == 1:
        app = create_app(settings, serving_process=True)
        uvicorn.Server(uvicorn.Config(app, **server_options)).run()
        return
    # worker processes build their app from the environment: hand the settings down
    os.environ.update(settings.as_environment())
    mark_supervisor()  # and die with this process (chunkup.supervision)
    # and where each writes its metrics, so that a scrape of any sums them all
    metrics = metrics_directory(settings.data_dir)
    os.environ[MULTIPROCESS_ENV] = str(metrics)
    try:
        uvicorn.run(
            "chunkup.api.app:create_worker_app",
            factory=True,
            workers=settings.workers,
            # uvicorn kills a worker that does not answer its ping in time, and a worker
            # answers only once spawned and imported: its 5 s default restarts every
            # worker forever on a loaded machine (seen at load 16 on 2 cores)
            timeout_worker_healthcheck=30,
            **server_options,
        )
    finally:
        shutil.rmtree(metrics)


@app.command()
def token(
    user: Annotated[
        int, typer.Option("--user", help="The user id the token is for", show_default=False)
    ],
    ttl: Annotated[
        str, typer.Option(help="Lifetime: seconds, or 30m, 1h, 7d", show_default=True)
    ] = "1h",
    data_dir: DataDir = None,
) -> None:
    """Mint an HS256 access token with the configured (or generated) secret.

    The server accepts it only if it runs with the same data directory (its
    generated secret) or the same CHUNKUP_JWT_SECRET.
    """
    from chunkup.auth import load_or_create_secret, mint_token

    settings = _settings(data_dir=data_dir)
    if settings.jwt_algorithm != "HS256":
        raise typer.BadParameter("tokens can be minted only for HS256 setups")
    secret_file = settings.data_dir / "jwt-secret"
    if settings.jwt_secret is None and not secret_file.exists():
        console.print(
            f"chunkup: no secret in {settings.data_dir.resolve()} yet: made a new one. A server "
            "accepts this token only with the same data directory (--data-dir) or secret.",
            soft_wrap=True,  # a path broken over lines cannot be copied
            markup=False,
        )
    typer.echo(mint_token(load_or_create_secret(settings), user, ttl_seconds=_parse_ttl(ttl)))


@app.command()
def gc(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    storage_url: StorageUrl = None,
    orphan_grace: Annotated[
        str, typer.Option(help="Leave chunk objects younger than this (in-flight requests)")
    ] = "1h",
) -> None:
    """Expire old uploads, forget long-expired ones, remove orphaned chunks and files."""
    from datetime import timedelta

    from chunkup.services import Services

    settings = _settings(data_dir=data_dir, database_url=database_url, storage_url=storage_url)

    async def run() -> dict[str, int]:
        services = await Services.start(settings)
        try:
            report = await services.gc.collect(
                orphan_grace=timedelta(seconds=_parse_ttl(orphan_grace))
            )
        finally:
            await services.close()
        return {k: getattr(report, k) for k in report.__slots__}

    typer.echo(json.dumps(asyncio.run(run())))


@app.command()
def migrate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply the database migrations (also done at start unless CHUNKUP_MIGRATE_ON_START=0)."""
    from chunkup.db import Database

    settings = _settings(data_dir=data_dir, database_url=database_url)

    async def run() -> None:
        db = Database(settings.resolved_database_url)
        try:
            await db.migrate()
        finally:
            await db.dispose()

    asyncio.run(run())
    console.print("migrations applied")


# the client side: upload files, look at media

ServerUrl = Annotated[
    str,
    typer.Option("--server", envvar="CHUNKUP_SERVER", show_envvar=True, help="The server's URL"),
]
AccessToken = Annotated[
    str,
    typer.Option("--token", envvar="CHUNKUP_TOKEN", show_envvar=True, help="An access token"),
]


class UploadType(StrEnum):
    image = "image"
    doc = "doc"
    eimage = "eimage"


def _fail(subject: object, exc: BaseException) -> None:
    """One line on stderr for one failure."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    console.print(f"chunkup: {subject}: {reason}", markup=False, highlight=False, soft_wrap=True)


def _progress_for(bars: Any, task: Any) -> Callable[[int, int], None]:
    """A client progress callback moving one rich bar (its speed counted from the first report)."""
    started = False

    def report(done: int, total: int) -> None:
        nonlocal started
        if not started:
            # Speed counts from here: what the server held already (a resumed upload
            # starts part-way) is no burst of speed. rich measures from its first
            # sample, so plant one, of one byte, now.
            started = True
            bars.reset(task, total=total, completed=max(done - 1, 0))
            bars.update(task, completed=done)
        else:
            bars.update(task, completed=done)

    return report


@app.command()
def upload(
    files: Annotated[list[Path], typer.Argument(help="The files to upload", show_default=False)],
    server: ServerUrl,
    token: AccessToken,
    media_type: Annotated[
        UploadType | None,
        typer.Option("--type", help="Default: doc for a PDF, image for anything else"),
    ] = None,
    parallel: Annotated[int, typer.Option(min=1, max=64, help="Chunks on the wire at once")] = 4,
    chunk_size: Annotated[int, typer.Option(min=1, help="Bytes per chunk")] = 204800,
    resume: Annotated[
        bool,
        typer.Option(
            help="Remember unfinished uploads, to resume them (in ~/.cache/chunkup/uploads.json, "
            "or env CHUNKUP_STATE_FILE)"
        ),
    ] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar per file")] = True,
) -> None:
    """Upload files; print each one's Media as a line of JSON.

    An interrupted upload resumes when the same command runs again: only the
    chunks the server lacks are sent.
    """
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from chunkup.client import ChunkupError, Client, ResumeFile

    store = ResumeFile() if resume else None
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not progress,
    )
    failed = 0
    with Client(server, token) as client, bars:
        tasks = [bars.add_task(escape(path.name), total=None, start=False) for path in files]
        for path, task in zip(files, tasks, strict=True):
            try:
                media = client.upload(
                    path,
                    type=media_type.value if media_type else None,
                    chunk_size=chunk_size,
                    parallel=parallel,
                    progress=_progress_for(bars, task),
                    resume=store,
                )
            except KeyboardInterrupt:
                console.print("interrupted: run the same command again to resume")
                raise typer.Exit(130) from None
            except (ChunkupError, OSError, ValueError) as exc:
                failed += 1
                bars.update(task, description=f"[red]{escape(path.name)}: failed")
                _fail(path, exc)
                continue
            typer.echo(media.model_dump_json())
    if failed:
        raise typer.Exit(1)


media_app = typer.Typer(help="Look at or delete uploaded media.", no_args_is_help=True)
app.add_typer(media_app, name="media")
MediaId = Annotated[int, typer.Argument(help="The Media's id", show_default=False)]


@contextmanager
def _media_client(server: str, token: str, subject: str) -> Iterator[Any]:
    from chunkup.client import ChunkupError, Client

    with Client(server, token) as client:
        try:
            yield client
        except ChunkupError as exc:
            _fail(subject, exc)
            raise typer.Exit(1) from None


@media_app.command("get")
def media_get(media_id: MediaId, server: ServerUrl, token: AccessToken) -> None:
    """Print one Media as JSON."""
    with _media_client(server, token, f"media {media_id}") as client:
        typer.echo(client.get_media(media_id).model_dump_json())


@media_app.command("delete")
def media_delete(media_id: MediaId, server: ServerUrl, token: AccessToken) -> None:
    """Delete one of your Media and its files."""
    with _media_client(server, token, f"media {media_id}") as client:
        client.delete_media(media_id)
    console.print(f"media {media_id} deleted")


# the webhook outbox (issue 18)

webhooks_app = typer.Typer(
    help="Look at webhook events and retry failed ones.", no_args_is_help=True
)
app.add_typer(webhooks_app, name="webhooks")


def _with_database(settings: Settings, work: Callable[[Any], Any]) -> Any:
    """Run ``work(db)`` (a coroutine function) on the configured database, migrated."""
    from chunkup.db import Database

    async def run() -> Any:
        db = Database(settings.resolved_database_url)
        try:
            if settings.migrate_on_start:
                await db.migrate()
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


@webhooks_app.command("list")
def webhooks_list(
    failed: Annotated[
        bool, typer.Option("--failed", help="Only events that exhausted their retries")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print the outbox's events, one JSON object a line (one per event and receiver)."""
    from chunkup.webhooks import admin

    settings = _settings(data_dir=data_dir, database_url=database_url)
    rows = _with_database(settings, lambda db: admin.list_events(db, failed_only=failed))
    for row in rows:
        typer.echo(
            json.dumps(
                {
                    "id": row.id,
                    "webhook_id": row.event_id,
                    "type": row.event_type,
                    "url": row.url,
                    "status": row.status,
                    "attempts": row.attempts,
                    "created_at": row.created_at.isoformat(),
                    "next_attempt_at": row.next_attempt_at.isoformat(),
                    "last_error": row.last_error,
                }
            )
        )


@webhooks_app.command("retry")
def webhooks_retry(
    event: Annotated[
        str,
        typer.Argument(
            help="An event's id from 'webhooks list', or its webhook-id (msg_…) for every receiver",
            show_default=False,
        ),
    ],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Deliver a failed event again, now, with a fresh retry horizon."""
    from chunkup.uploads.clock import utcnow
    from chunkup.webhooks import admin

    settings = _settings(data_dir=data_dir, database_url=database_url)
    queued = _with_database(
        settings,
        lambda db: admin.retry(db, event, now=utcnow(), horizon=settings.webhook_retry_horizon),
    )
    if not queued:
        console.print(f"chunkup: no failed or waiting webhook event {event}")
        raise typer.Exit(1)
    console.print(f"{queued} webhook event(s) queued for delivery")


def main() -> None:
    app()
