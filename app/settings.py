"""Configuration: environment variables > `.env` > TOML file > defaults.

Every field's environment variable is its name in capitals (`cloudflare_account_id` ->
`CLOUDFLARE_ACCOUNT_ID`); these names are a public contract. The TOML file spells the same settings
as `[cloudflare] account_id = ...` / `[proxy] default_max_tokens = ...` (or flat `cloudflare_account_id`),
plus per-model tables `[models."<model or alias>"]` that only a file can express.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from app.models.upstream_limits import published_rpm
from app.policies import gateway_headers as gateway
from app.routing.upstreams import UPSTREAMS

DEFAULT_CONFIG_FILE = Path("config/proxy.toml")
DEFAULT_API_BASE = "https://api.cloudflare.com/client/v4"
TOML_SECTIONS = ("cloudflare", "proxy")

LogLevel = Literal["critical", "error", "warning", "info", "debug"]
DEFAULT_GATEWAY_BASE = "https://gateway.ai.cloudflare.com/v1"


class ConfigError(Exception):
    """A configuration problem, worded for the person starting the proxy."""


def known_upstream(value: str) -> str:
    if value not in UPSTREAMS:
        raise ValueError(f"unknown upstream {value!r}; choose one of {', '.join(UPSTREAMS)}")
    return value


class ModelSettings(BaseModel):
    """Per-model overrides, keyed by Workers AI model id or alias in `[models."..."]`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int | None = Field(default=None, ge=1)
    upstream: str | None = None  # overrides PROXY_UPSTREAM for this model
    rpm: int | None = Field(default=None, ge=1)  # the pace of the proxy's own requests to it (upstream pacing)

    @field_validator("upstream")
    @classmethod
    def _known_upstream(cls, value: str | None) -> str | None:
        return None if value is None else known_upstream(value)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # `CLOUDFLARE_API_TOKEN=` (as in .env.example) means unset
        extra="ignore",
        case_sensitive=False,
        frozen=True,
    )

    cloudflare_account_id: str | None = None
    cloudflare_api_token: SecretStr | None = None
    cloudflare_api_base: str = DEFAULT_API_BASE
    cloudflare_gateway_id: str | None = None
    cloudflare_gateway_base: str = DEFAULT_GATEWAY_BASE
    cloudflare_gateway_token: SecretStr | None = None
    proxy_upstream: str = "native"  # a key of routing.upstreams.UPSTREAMS
    proxy_gateway_headers: dict[str, str] = {}
    proxy_models_ttl: float = Field(default=3600.0, gt=0)
    proxy_api_keys: Annotated[list[SecretStr], NoDecode] = []
    proxy_model_aliases: dict[str, str] = {}
    proxy_default_max_tokens: int = Field(default=4096, ge=1)
    proxy_host: str = "127.0.0.1"
    proxy_port: int = Field(default=8787, ge=1, le=65535)
    proxy_log_level: LogLevel = "info"
    proxy_log_format: Literal["text", "json"] = "text"
    proxy_log_bodies: bool = False  # prompts and replies in the access log (secrets scrubbed)
    proxy_metrics: bool = True  # GET /metrics
    proxy_ready_ttl: float = Field(default=30.0, gt=0)  # how long /ready trusts its last look at the account
    proxy_state_path: Path = Path("data/proxy.sqlite3")  # keys and usage (the embedded backend)
    proxy_redis_url: SecretStr | None = None  # limits and budgets shared by every replica (redis://host:6379/0)
    proxy_redis_required: bool = False  # Redis down: 503 (true) or count alone with a warning (false)
    proxy_admin_key: SecretStr | None = None  # opens GET /v1/usage (and the admin endpoints)
    proxy_daily_neurons: int | None = Field(default=None, ge=1)  # the account's daily guard, all keys together
    proxy_budget_fallback: bool = False  # over a budget: serve a fallback model it can afford instead of a 429
    proxy_key_rpm: int | None = Field(default=None, ge=1)  # requests per minute of a key that sets none
    proxy_key_tpm: int | None = Field(default=None, ge=1)  # tokens per minute of a key that sets none
    proxy_cache: Literal["on", "off"] = "on"  # the reply cache (see README "Cache")
    proxy_cache_ttl: float = Field(default=3600.0, gt=0)  # seconds an entry is kept (x-proxy-cache-ttl per request)
    proxy_cache_max_bytes: int = Field(default=256 * 1024 * 1024, ge=0)  # the embedded cache's bound (LRU)
    proxy_cache_chat: Literal["auto", "always", "never"] = "auto"  # auto: when deterministic (temperature 0, seed)
    proxy_cache_scope: Literal["global", "key"] = "global"  # key: entries seen only by the key that wrote them
    proxy_cache_persist: bool = False  # the embedded cache saved next to the state database at shutdown, read at start
    proxy_responses_ttl: float = Field(default=24 * 3600.0, gt=0)  # how long a stored Response is kept
    proxy_responses_max: int = Field(default=10_000, ge=1)  # stored Responses kept in this process, oldest out
    proxy_responses_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1)  # and the bytes they may hold together
    proxy_workers: int = Field(default=1, ge=1, le=256)
    proxy_max_n: int = Field(default=8, ge=1, le=128)
    proxy_image_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    proxy_image_fetch_timeout: float = Field(default=10.0, gt=0)
    proxy_image_allow_private_urls: bool = False
    proxy_image_model: str = "@cf/black-forest-labs/flux-1-schnell"  # images.generate without a model
    proxy_image_url_ttl: float = Field(default=3600.0, gt=0)  # seconds a `response_format: url` image is served
    proxy_image_files_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1)  # kept images, in memory (LRU)
    proxy_audio_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1)  # an uploaded audio file (OpenAI's limit)
    proxy_speech_model: str = "@cf/deepgram/aura-2-en"  # audio.speech without a known model name (tts-1, ...)
    proxy_transcription_model: str = "@cf/openai/whisper-large-v3-turbo"  # for whisper-1 and the like
    proxy_embeddings_max_inputs: int = Field(default=2048, ge=1)
    proxy_embeddings_max_chars: int = Field(default=2_000_000, ge=1)
    proxy_max_images: int = Field(default=16, ge=0)
    proxy_image_max_total_bytes: int = Field(default=32 * 1024 * 1024, ge=1)
    proxy_connect_timeout: float = Field(default=5.0, gt=0)
    proxy_first_byte_timeout: float = Field(default=120.0, gt=0)
    proxy_idle_timeout: float = Field(default=60.0, gt=0)
    proxy_total_timeout: float = Field(default=600.0, gt=0)
    proxy_max_retries: int = Field(default=3, ge=0, le=10)
    proxy_retry_base_delay: float = Field(default=0.5, ge=0)
    proxy_fallbacks: dict[str, list[str]] = {}
    proxy_reject_if_busy: bool = False  # options.rejectIfBusy for every model (always for one with fallbacks)
    proxy_session_affinity: bool = True  # x-session-affinity (prefix caching) on Workers AI's native route
    proxy_breaker_threshold: int = Field(default=5, ge=1)
    proxy_breaker_cooldown: float = Field(default=30.0, gt=0)
    proxy_max_concurrency: int = Field(default=512, ge=1)
    proxy_queue_timeout: float = Field(default=10.0, ge=0)
    # auto: Workers AI's published rates when the API base is Cloudflare's; on: always; off: never. A model's own
    # `rpm` in [models."..."] applies unless off.
    proxy_upstream_pacing: Literal["auto", "on", "off"] = "auto"
    proxy_max_body_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    # the HTTP server: what a client may hold before the proxy knows who it is (app.server)
    proxy_max_head_bytes: int = Field(default=64 * 1024, ge=1024)
    proxy_max_header_bytes: int = Field(default=8 * 1024, ge=256)
    proxy_header_timeout: float = Field(default=15.0, gt=0)
    proxy_body_timeout: float = Field(default=60.0, gt=0)
    proxy_max_connections: int | None = Field(default=None, ge=8)  # unset: from the open-file limit
    proxy_max_reply_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    proxy_max_stream_event_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    proxy_drain_timeout: float = Field(default=30.0, ge=0)
    proxy_emulator: bool = False
    proxy_emulator_token_delay_ms: float = Field(default=20.0, ge=0)
    models: dict[str, ModelSettings] = {}

    @field_validator("proxy_api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("proxy_upstream")
    @classmethod
    def _check_upstream(cls, value: str) -> str:
        return known_upstream(value)

    @field_validator("proxy_log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("cloudflare_api_base", "cloudflare_gateway_base")
    @classmethod
    def _check_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("proxy_gateway_headers")
    @classmethod
    def _check_gateway_headers(cls, value: dict[str, str]) -> dict[str, str]:
        lowered = {name.lower(): str(header) for name, header in value.items()}
        unknown = sorted(set(lowered) - gateway.REQUEST_HEADERS)
        if unknown:
            raise ValueError(f"only AI Gateway request headers may be set here, not {', '.join(unknown)}")
        return lowered

    @field_validator(
        "cloudflare_account_id",
        "cloudflare_api_token",
        "cloudflare_gateway_id",
        "cloudflare_gateway_token",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_combination(self) -> Settings:
        if self.proxy_api_keys and self.cloudflare_api_token is None and not self.proxy_emulator:
            raise ValueError(
                "PROXY_API_KEYS cannot be used without CLOUDFLARE_API_TOKEN: with no server token the "
                "client's own key is forwarded to Cloudflare (pass-through mode), so there is no key of "
                "ours to check. Set CLOUDFLARE_API_TOKEN or clear PROXY_API_KEYS."
            )
        chosen = {self.proxy_upstream, *(model.upstream for model in self.models.values() if model.upstream)}
        gateway_only = sorted(name for name in chosen if UPSTREAMS[name].needs_gateway)
        if gateway_only and not self.cloudflare_gateway_id:
            raise ValueError(
                f'PROXY_UPSTREAM={gateway_only[0]} (or a model\'s upstream = "{gateway_only[0]}") goes through AI '
                "Gateway's /compat/chat/completions: set CLOUDFLARE_GATEWAY_ID."
            )
        if not self.proxy_emulator and not self.cloudflare_account_id:
            raise ValueError(
                "CLOUDFLARE_ACCOUNT_ID is not set. Set it (and CLOUDFLARE_API_TOKEN) in the environment, "
                "a .env file or config/proxy.toml, or start with --emulator (PROXY_EMULATOR=true) to try "
                "the proxy without a Cloudflare account."
            )
        return self

    @property
    def pass_through(self) -> bool:
        """No server token: the client's bearer token is the Cloudflare token."""
        return self.cloudflare_api_token is None

    def upstream_rpm(self, model_id: str) -> int | None:
        """The pace of the proxy's own requests to a model (None: not paced)."""
        if self.proxy_upstream_pacing == "off":
            return None
        override = self.models.get(model_id)
        if override is not None and override.rpm is not None:
            return override.rpm
        cloudflare = urlsplit(self.cloudflare_api_base).hostname == "api.cloudflare.com"
        if self.proxy_upstream_pacing == "on" or (cloudflare and not self.proxy_emulator):
            return published_rpm(model_id)
        return None

    def max_tokens_for(self, *names: str) -> int:
        for name in names:
            override = self.models.get(name)
            if override is not None and override.max_tokens is not None:
                return override.max_tokens
        return self.proxy_default_max_tokens


class _TomlSource(PydanticBaseSettingsSource):
    """Feeds already flattened TOML values in at the lowest priority."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build validated settings; raise ConfigError with one readable message on any problem."""
    path = _config_path(config_file)
    toml_values = _read_toml(path) if path is not None else {}

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return init_settings, env_settings, dotenv_settings, _TomlSource(settings_cls, toml_values)

    try:
        return _Loaded(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    except SettingsError as exc:
        raise ConfigError(_describe_settings_error(exc)) from None


def _config_path(config_file: str | Path | None) -> Path | None:
    chosen = config_file or os.environ.get("PROXY_CONFIG")
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise ConfigError(f"config file {path} (--config / PROXY_CONFIG) does not exist")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if key in TOML_SECTIONS and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                flat[f"{key}_{sub_key}".lower()] = sub_value
        else:
            flat[key.lower()] = value
    unknown = sorted(set(flat) - set(Settings.model_fields))
    if unknown:
        names = ", ".join(_toml_spelling(name) for name in unknown)
        raise ConfigError(f"unknown setting(s) in {path}: {names}")
    return flat


def _toml_spelling(flat_name: str) -> str:
    for section in TOML_SECTIONS:
        if flat_name.startswith(section + "_"):
            return f"[{section}] {flat_name[len(section) + 1 :]}"
    return flat_name


def describe_validation_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        message = error["msg"].removeprefix("Value error, ")
        if not loc:
            problems.append(message)
            continue
        name = loc[0].upper() if loc[0] in Settings.model_fields and loc[0] != "models" else loc[0]
        where = ".".join([name, *loc[1:]])
        problems.append(f"{where}: {message}")
    return "invalid configuration: " + "; ".join(problems)


def _describe_settings_error(exc: SettingsError) -> str:
    text = str(exc)
    for name in Settings.model_fields:
        if f'"{name}"' in text:
            return f"invalid configuration: {name.upper()} is not valid JSON"
    return f"invalid configuration: {text}"
