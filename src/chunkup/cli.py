"""The ``chunkup`` command: serve, token, gc, migrate; upload and media (the client)."""

from __future__ import annotations

import asyncio
import json
import os
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

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory [env CHUNKUP_DATA_DIR]")
]
DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="[env CHUNKUP_DATABASE_URL]")
]
StorageUrl = Annotated[str | None, typer.Option("--storage-url", help="[env CHUNKUP_STORAGE_URL]")]


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
    host: Annotated[str | None, typer.Option(help="[env CHUNKUP_HOST; default 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="[env CHUNKUP_PORT; default 8000]")] = None,
    data_dir: DataDir = None,
    public_url: Annotated[
        str | None, typer.Option("--public-url", help="Base of file URLs [env CHUNKUP_PUBLIC_URL]")
    ] = None,
    database_url: DatabaseUrl = None,
    storage_url: StorageUrl = None,
    log_level: Annotated[
        str | None, typer.Option(help="debug, info, warning [env CHUNKUP_LOG_LEVEL]")
    ] = None,
    log_format: Annotated[
        str | None, typer.Option(help="json or text [env CHUNKUP_LOG_FORMAT]")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes on one port [env CHUNKUP_WORKERS; default: cores]"),
    ] = None,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev", help="Development mode: the web page offers a dev token [env CHUNKUP_DEV]"
        ),
    ] = False,
    max_connections: Annotated[
        int | None,
        typer.Option(
            "--max-connections",
            help="Open connections per worker [env CHUNKUP_HTTP_MAX_CONNECTIONS; default 1000]",
        ),
    ] = None,
    header_timeout: Annotated[
        float | None,
        typer.Option(
            "--header-timeout",
            help="Seconds for a request's headers to arrive "
            "[env CHUNKUP_HTTP_HEADER_TIMEOUT; default 10]",
        ),
    ] = None,
) -> None:
    """Run the HTTP service."""
    import uvicorn

    from chunkup.api import create_app
    from chunkup.api.observability import configure_logging
    from chunkup.api.protocol import uvicorn_options
    from chunkup.memory import tune_malloc

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
    uvicorn.run(
        "chunkup.api.app:create_worker_app",
        factory=True,
        workers=settings.workers,
        **server_options,
    )


@app.command()
def token(
    user: Annotated[int, typer.Option("--user", help="The user id the token is for")],
    ttl: Annotated[str, typer.Option(help="Lifetime: seconds, or 30m, 1h, 7d")] = "1h",
    data_dir: DataDir = None,
) -> None:
    """Mint an HS256 access token with the configured (or generated) secret."""
    from chunkup.auth import load_or_create_secret, mint_token

    settings = _settings(data_dir=data_dir)
    if settings.jwt_algorithm != "HS256":
        raise typer.BadParameter("tokens can be minted only for HS256 setups")
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
    typer.Option("--server", envvar="CHUNKUP_SERVER", help="The server's URL [env CHUNKUP_SERVER]"),
]
AccessToken = Annotated[
    str, typer.Option("--token", envvar="CHUNKUP_TOKEN", help="An access token [env CHUNKUP_TOKEN]")
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
        typer.Option(help="Remember unfinished uploads, to resume them [env CHUNKUP_STATE_FILE]"),
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


def main() -> None:
    app()
