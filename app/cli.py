"""The ``parley`` command."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import errno
import os
import socket
import subprocess
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import uvicorn
from pydantic import ValidationError
from uvicorn.supervisors import Multiprocess

from app.platform.config import Settings, get_settings

cli = typer.Typer(help="Parley: WhatsApp Business messaging backend.", no_args_is_help=True)

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"

HostOption = Annotated[str | None, typer.Option(help="Bind address (PARLEY_HOST).")]
PortOption = Annotated[int | None, typer.Option(help="Port (PARLEY_PORT).")]


def websocket_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's WebSocket settings, for `parley serve`/`dev` and the test server alike."""
    return {
        # The sans-I/O protocol: no tasks of its own per connection, flow control on sends.
        "ws": "websockets-sansio",
        # permessage-deflate about doubles the memory of an idle connection.
        "ws_per_message_deflate": settings.ws_per_message_deflate,
        # Messages are capped like request bodies: a larger one is closed with 1009 before
        # it is read whole (app.live.handlers checks the same limit under any server).
        "ws_max_size": settings.max_body_bytes,
        # Protocol-level pings find dead TCP peers, and their pongs are how a graphql-ws
        # client shows it is alive (app.live.connection); the app pings over
        # graphql-transport-ws. The app's idle close (4498) comes first.
        "ws_ping_interval": settings.ws_keepalive_seconds,
        "ws_ping_timeout": settings.ws_idle_timeout_seconds + settings.ws_keepalive_seconds,
    }


def _fail(message: str) -> NoReturn:
    typer.echo(f"parley: {message}", err=True)
    raise typer.Exit(1)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as error:
        for problem in error.errors():
            where = "".join(f"PARLEY_{str(part).upper()}: " for part in problem["loc"][:1])
            typer.echo(f"parley: {where}{problem['msg']}", err=True)
        raise typer.Exit(1) from None


def _start_settings(command: str) -> Settings:
    """The settings of a start of the API or a worker, with a secret key that is not public.

    The built-in key is in the source, so anyone could sign tokens with it. `parley dev`, and
    `serve`/`worker` when PARLEY_ENV=development is set explicitly, use instead a random key
    made once per install under var/ (shared by the API and a worker started next to it);
    any other start without PARLEY_SECRET_KEY is refused.
    """
    settings = _settings()
    if not settings.uses_public_secret_key:
        return settings
    if command != "dev" and not (settings.env_is_explicit and settings.env == "development"):
        _fail(
            f"{command} needs PARLEY_SECRET_KEY (a long random value); for a local try, "
            "PARLEY_ENV=development uses this install's development key"
        )
    from app.platform.security import install_secret_key

    os.environ["PARLEY_SECRET_KEY"] = install_secret_key(settings.var_dir)
    get_settings.cache_clear()
    return _settings()


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything starts, so a busy port is one clear line."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            _fail(f"port {port} on {host} is in use; stop what uses it or pick another (--port)")
        _fail(f"cannot listen on {host}:{port}: {error.strerror}")
    sock.set_inheritable(True)
    return sock


def _uvicorn_config(settings: Settings, host: str, port: int, workers: int) -> uvicorn.Config:
    return uvicorn.Config(
        "app.http.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        **websocket_options(settings),
        log_config=None,
        access_log=False,
        # X-Forwarded-For is the app's business, from PARLEY_TRUSTED_PROXIES only (app.http.app);
        # uvicorn's own default would believe any local process.
        proxy_headers=False,
        lifespan="on",
    )


class _AnnouncingServer(uvicorn.Server):
    """Prints its banner once it listens and the app has started, not before."""

    def __init__(self, config: uvicorn.Config, banner: str) -> None:
        super().__init__(config)
        self.banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            typer.echo(self.banner)


def _serve(
    settings: Settings, sock: socket.socket, host: str, port: int, *, workers: int, banner: str
) -> None:
    config = _uvicorn_config(settings, host, port, workers)
    if workers > 1:
        typer.echo(banner)
        with contextlib.suppress(KeyboardInterrupt):
            Multiprocess(config, sockets=[sock]).run()
        return
    server = _AnnouncingServer(config, banner)
    # uvicorn re-raises the Ctrl-C it handled, once it has shut down.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        raise typer.Exit(3)


@cli.command()
def dev(host: HostOption = None, port: PortOption = None) -> None:
    """Run the API on the embedded stack (applies migrations first)."""
    settings = _start_settings("dev")
    host = host or settings.host
    port = port or settings.port
    sock = _bind(host, port)
    _migrate()
    what = "GraphiQL" if settings.graphiql_enabled else "the API"
    banner = f"Parley is running: {what} at http://{host}:{port}/graphql  (Ctrl-C stops it)"
    _serve(settings, sock, host, port, workers=1, banner=banner)


@cli.command()
def serve(host: HostOption = None, port: PortOption = None, workers: int | None = None) -> None:
    """Run the API (production: N stateless processes behind a load balancer)."""
    settings = _start_settings("serve")
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    _serve(
        settings,
        _bind(host, port),
        host,
        port,
        workers=workers,
        banner=f"Parley is serving http://{host}:{port}/graphql ({workers} process(es))",
    )


@cli.command()
def worker() -> None:
    """Run a job worker for all queues (default, campaigns, ai)."""
    import uvloop

    from app.live import webhooks
    from app.workers.process import run_worker_process

    settings = _start_settings("worker")
    # Webhook payloads are the app's subscription documents: the worker runs the schema.
    webhooks.install()
    # uvloop, as under `parley serve`: a campaign's sends are mostly event-loop work.
    uvloop.run(run_worker_process(settings))


def _migrate() -> list[str]:
    from app.platform.migrations import apply_migrations

    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(apply_migrations(settings.resolved_database_url))


@cli.command()
def migrate() -> None:
    """Apply pending database migrations."""
    applied = _migrate()
    typer.echo("Applied: " + ", ".join(applied) if applied else "Database is up to date.")


@cli.command()
def makemigrations(
    name: Annotated[str, typer.Argument(help="A short name, e.g. add_campaigns.")] = "update",
    check: Annotated[bool, typer.Option(help="Only report whether models changed.")] = False,
) -> None:
    """Write the next migration (SQLite and PostgreSQL) for changed models."""
    from app.platform.migrations import make_migration, pending_model_changes

    if check:
        changes = asyncio.run(pending_model_changes())
        if changes:
            typer.echo(f"Models and migrations disagree: {changes}", err=True)
            raise typer.Exit(1)
        typer.echo("Models match the migrations.")
        return
    path = asyncio.run(make_migration(name))
    typer.echo(f"Wrote {path}" if path else "No changes.")


@cli.command()
def createsuperuser(
    email: Annotated[str, typer.Option(prompt=True)],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    name: Annotated[str, typer.Option()] = "",
) -> None:
    """Create a staff user (or make an existing user staff)."""
    from app.accounts.admin import create_superuser

    asyncio.run(create_superuser(get_settings(), email=email, password=password, name=name))
    typer.echo(f"Staff user {email.strip().lower()} is ready.")


plans_cli = typer.Typer(
    help="Plans and organizations' subscriptions (staff).", no_args_is_help=True
)
cli.add_typer(plans_cli, name="plans")

LimitsOption = Annotated[
    str | None,
    typer.Option(
        help="JSON object of PlanLimits fields, e.g. '{\"devices\": 2}'; null: unlimited."
    ),
]
FeaturesOption = Annotated[
    list[str] | None, typer.Option("--feature", help="A feature flag (repeatable).")
]


def _plans_command(run: Any) -> None:
    from app.plans.admin import PlanCommandError

    try:
        result = asyncio.run(run)
    except PlanCommandError as error:
        _fail(str(error))
    for line in result if isinstance(result, list) else [result]:
        typer.echo(line)


@plans_cli.command("list")
def plans_list() -> None:
    """Every plan: id, name, limits, features, organizations on it."""
    from app.plans.admin import list_plans

    _plans_command(list_plans(_settings()))


@plans_cli.command("create")
def plans_create(
    name: str,
    limits: LimitsOption = None,
    feature: FeaturesOption = None,
    default: Annotated[bool, typer.Option(help="New organizations get this plan.")] = False,
) -> None:
    """Create a plan (limits left out: unlimited)."""
    from app.plans.admin import create_plan

    _plans_command(create_plan(_settings(), name, limits, list(feature or []), default))


@plans_cli.command("update")
def plans_update(
    name: str,
    limits: LimitsOption = None,
    rename: Annotated[str | None, typer.Option(help="A new name.")] = None,
    feature: FeaturesOption = None,
    default: Annotated[
        bool | None, typer.Option("--default/--no-default", help="The default plan.")
    ] = None,
) -> None:
    """Change a plan: the limits given (others stay), its name, features, default."""
    from app.plans.admin import update_plan

    _plans_command(
        update_plan(
            _settings(), name, limits=limits, rename=rename, features=feature, default=default
        )
    )


@plans_cli.command("assign")
def plans_assign(
    organization: Annotated[str, typer.Argument(help="Organization number or global id.")],
    plan: Annotated[str, typer.Argument(help="The plan's name.")],
    status: Annotated[
        str | None, typer.Option(help="TRIALING, ACTIVE, PAST_DUE, CANCELED.")
    ] = None,
) -> None:
    """Put an organization on a plan."""
    from app.plans.admin import assign_plan

    chosen = _subscription_status(status) if status else None
    _plans_command(assign_plan(_settings(), organization, plan, chosen))


@plans_cli.command("status")
def plans_status(
    organization: Annotated[str, typer.Argument(help="Organization number or global id.")],
    status: Annotated[str, typer.Argument(help="TRIALING, ACTIVE, PAST_DUE, CANCELED.")],
) -> None:
    """Set an organization's subscription status."""
    from app.plans.admin import set_status

    _plans_command(set_status(_settings(), organization, _subscription_status(status)))


def _subscription_status(value: str) -> Any:
    from app.models.plans import SubscriptionStatus

    try:
        return SubscriptionStatus(value.upper())
    except ValueError:
        _fail(f"status must be one of {', '.join(s.value for s in SubscriptionStatus)}")


def _exported_schema() -> str:
    from app.schema import schema

    return schema.as_str().rstrip() + "\n"


@cli.command("export-schema")
def export_schema(
    output: Annotated[Path, typer.Option(help="Where to write the SDL.")] = SCHEMA_FILE,
) -> None:
    """Write the GraphQL schema (SDL) to schema.graphql."""
    output.write_text(_exported_schema())
    typer.echo(f"Wrote {output}")


@cli.command("check-schema")
def check_schema(
    against: Annotated[
        str | None,
        typer.Option(help="A git ref whose schema.graphql must not be broken."),
    ] = None,
) -> None:
    """Fail when schema.graphql differs from the code, or breaks the schema at a git ref."""
    from graphql import build_schema, find_breaking_changes

    exported = _exported_schema()
    committed = SCHEMA_FILE.read_text() if SCHEMA_FILE.exists() else ""
    failed = False
    if exported != committed:
        diff = difflib.unified_diff(
            committed.splitlines(),
            exported.splitlines(),
            "schema.graphql",
            "exported",
            lineterm="",
        )
        typer.echo("schema.graphql is out of date; run `make schema`:", err=True)
        typer.echo("\n".join(list(diff)[:80]), err=True)
        failed = True
    if against:
        try:
            old = subprocess.run(
                ["git", "show", f"{against}:schema.graphql"],
                cwd=SCHEMA_FILE.parent,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        except subprocess.CalledProcessError as error:
            typer.echo(
                f"Cannot read schema.graphql at {against}: {error.stderr.strip()}",
                err=True,
            )
            raise typer.Exit(2) from None
        breaking = find_breaking_changes(build_schema(old), build_schema(exported))
        for change in breaking:
            typer.echo(f"BREAKING {change.type.name}: {change.description}", err=True)
        failed = failed or bool(breaking)
    if failed:
        raise typer.Exit(1)
    typer.echo(
        "schema.graphql is up to date" + (f" and compatible with {against}." if against else ".")
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
