"""Turn provider errors into Temporal failures that retry (or not) correctly.

The ``openai`` client's own retries are off, so every retry is Temporal's and
shows in the history. What decides a retry is the HTTP status:
bad request / auth / not found / unprocessable will fail the same way again,
a rate limit tells us when to come back, everything else is worth another try.
"""

from __future__ import annotations

from datetime import timedelta

import openai
from temporalio.exceptions import ApplicationError

NON_RETRYABLE_STATUSES = frozenset({400, 401, 403, 404, 413, 422})  # 413: as large when asked again
MAX_RETRY_AFTER = timedelta(minutes=10)


def retry_after(headers) -> timedelta | None:
    """The wait a 429 asks for, from ``retry-after-ms`` or ``retry-after`` (seconds)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name) if headers is not None else None
        if raw is None:
            continue
        try:
            seconds = float(raw) * scale
        except ValueError:
            continue  # an HTTP date: rare from LLM providers, fall back to backoff
        if seconds >= 0:
            return min(timedelta(seconds=seconds), MAX_RETRY_AFTER)
    return None


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced: some providers echo the API key in
    their error messages, and a failure message lands in the history."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "***")
    return text


def classify(err: openai.OpenAIError, model: str, secrets: tuple[str, ...] = ()) -> ApplicationError:
    """An ApplicationError whose type names the failure and whose flags drive the retry;
    ``secrets`` never appear in its message."""
    failure = _classify(err, model)
    clean = redact(failure.message, secrets)
    if clean == failure.message:
        return failure
    return ApplicationError(clean, type=failure.type, non_retryable=failure.non_retryable,
                            next_retry_delay=failure.next_retry_delay)


def _classify(err: openai.OpenAIError, model: str) -> ApplicationError:
    if isinstance(err, openai.APIStatusError):
        status = err.status_code
        message = f"{model}: HTTP {status}: {_short(err)}"
        if status == 429:
            return ApplicationError(
                message, type="RateLimited", next_retry_delay=retry_after(err.response.headers)
            )
        return ApplicationError(
            message, type=f"HTTP{status}", non_retryable=status in NON_RETRYABLE_STATUSES
        )
    if isinstance(err, openai.APITimeoutError):
        return ApplicationError(f"{model}: request timed out", type="ProviderTimeout")
    if isinstance(err, openai.APIConnectionError):
        return ApplicationError(f"{model}: connection failed: {err}", type="ProviderUnreachable")
    return ApplicationError(f"{model}: {type(err).__name__}: {_short(err)}", type="ProviderError")


def _short(err: openai.OpenAIError, limit: int = 500) -> str:
    # The provider's message, not the whole response: it lands in history.
    text = getattr(err, "message", None) or str(err)
    body = getattr(err, "body", None)
    if isinstance(body, str) and body and body not in text:
        text = f"{text} - {body}"  # a plain-text error body the client left out
    return text if len(text) <= limit else text[:limit] + "…"
