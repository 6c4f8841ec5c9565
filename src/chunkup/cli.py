"""The ``chunkup`` command: serve, token, gc, migrate."""

from __future__ import annotations

import asyncio
import json
import os
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
) -> None:
    """Run the HTTP service."""
    import uvicorn

    from chunkup.api import create_app
    from chunkup.api.observability import configure_logging
    from chunkup.api.protocol import uvicorn_options

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
    )
    configure_logging(settings.log_level, settings.log_format)
    server_options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        **uvicorn_options(settings.log_level),
    }
    console.print(
        f"chunkup serving on http://{settings.host}:{settings.port} with "
        f"{settings.workers} worker(s) (data in {settings.data_dir.resolve()})"
    )
    if settings.workers == 1:
        uvicorn.Server(uvicorn.Config(create_app(settings), **server_options)).run()
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


def main() -> None:
    app()
