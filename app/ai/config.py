"""One model configuration for Semantic Kernel and AutoGen.

Any OpenAI-compatible chat endpoint works: OpenAI (no base URL), Azure OpenAI's v1 endpoint,
Ollama (``http://localhost:11434/v1``) or vLLM. Both frameworks talk through the same
``openai.AsyncOpenAI`` settings: timeout and bounded retries (429, 5xx, timeouts) are the
client's own.

The heavy frameworks are imported inside the builders: importing Semantic Kernel costs about a
second, which the API process never pays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.platform.config import Settings

if TYPE_CHECKING:
    from openai import AsyncOpenAI

# Ollama and vLLM accept any key; the OpenAI client insists on one.
_PLACEHOLDER_KEY = "not-needed"


@dataclass(frozen=True)
class ModelConfig:
    base_url: str | None
    api_key: str
    model: str
    timeout: float
    max_retries: int


def is_configured(settings: Settings) -> bool:
    return bool(settings.ai_base_url or settings.ai_api_key)


def model_config(settings: Settings, model: str | None = None) -> ModelConfig:
    """The configuration of one run; ``model`` is an agent's override of the default."""
    key = settings.ai_api_key.get_secret_value() if settings.ai_api_key else _PLACEHOLDER_KEY
    return ModelConfig(
        base_url=settings.ai_base_url,
        api_key=key,
        model=model or settings.ai_model,
        timeout=settings.ai_timeout_seconds,
        max_retries=settings.ai_max_retries,
    )


def openai_client(config: ModelConfig) -> AsyncOpenAI:
    from openai import AsyncOpenAI

    return AsyncOpenAI(
        base_url=config.base_url,
        api_key=config.api_key,
        timeout=config.timeout,
        max_retries=config.max_retries,
    )


def import_frameworks() -> None:
    """Import what a single agent's run needs (Semantic Kernel and its OpenAI connector): a
    second or more of CPU, for a worker to do in a thread before it takes jobs."""
    import importlib

    importlib.import_module("app.ai.agents")
    importlib.import_module("semantic_kernel.connectors.ai.open_ai")


def kernel_chat_service(config: ModelConfig) -> Any:
    """Semantic Kernel's chat completion service on the configured endpoint."""
    from semantic_kernel.connectors.ai.open_ai import OpenAIChatCompletion

    return OpenAIChatCompletion(
        ai_model_id=config.model, async_client=openai_client(config), service_id="parley"
    )


def autogen_model_client(config: ModelConfig) -> Any:
    """AutoGen's model client on the configured endpoint; model names outside OpenAI's list
    (``llama3.1``, ``qwen2.5``) get a generic capability description."""
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    # Without a base URL the client talks to OpenAI itself.
    endpoint: dict[str, Any] = {"base_url": config.base_url} if config.base_url else {}
    return OpenAIChatCompletionClient(
        model=config.model,
        **endpoint,
        api_key=config.api_key,
        timeout=config.timeout,
        max_retries=config.max_retries,
        # Token counts of streamed answers: AI usage is counted per organization.
        stream_options={"include_usage": True},
        model_info={
            "vision": False,
            "function_calling": True,
            "json_output": False,
            "family": "unknown",
            "structured_output": False,
        },
    )
