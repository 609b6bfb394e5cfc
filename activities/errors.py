"""Turn provider errors into Temporal failures that retry (or not) correctly.

The ``openai`` client's own retries are off, so every retry is Temporal's and
shows in the history. What decides a retry is the HTTP status:
bad request / auth / not found / unprocessable will fail the same way again,
a rate limit tells us when to come back, everything else is worth another try.
"""

from __future__ import annotations

import json
from datetime import timedelta

import aiohttp
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
    ``secrets`` never appear in its message (redacted before it is cut: a cut key is no longer found)."""
    if isinstance(err, openai.APIStatusError):
        return for_status(err.status_code, f"{model}: HTTP {err.status_code}: {_short(_text_of(err), secrets)}",
                          err.response.headers)
    failure = _transport_failure(err)
    if isinstance(err, openai.APITimeoutError) and (failure is None or isinstance(failure, TimeoutError)):
        return ApplicationError(f"{model}: request timed out", type="ProviderTimeout")
    if isinstance(err, openai.APIConnectionError):
        return ApplicationError(f"{model}: connection failed: {_short(str(failure or err), secrets)}", type="ProviderUnreachable")
    return ApplicationError(f"{model}: {type(err).__name__}: {_short(_text_of(err), secrets)}", type="ProviderError")


def _transport_failure(err: BaseException) -> aiohttp.ClientError | None:
    """The aiohttp error under a connection failure, when the worker's transport (openai's
    aiohttp one) raised it. That transport labels every aiohttp connection error a connect
    timeout, a refused connection or a server hanging up included: what it wraps says which."""
    cause = err.__cause__
    while cause is not None and not isinstance(cause, aiohttp.ClientError):
        cause = cause.__cause__
    return cause


def for_status(status: int, message: str, headers=None) -> ApplicationError:
    """The failure an HTTP status stands for: its type, whether to retry, when."""
    if status == 429:
        return ApplicationError(message, type="RateLimited", next_retry_delay=retry_after(headers))
    return ApplicationError(message, type=f"HTTP{status}", non_retryable=status in NON_RETRYABLE_STATUSES)


# What an error's ``type`` or ``code`` says, as the HTTP status a provider would have sent with it.
STATUS_WORDS = (("rate_limit", 429), ("quota", 429), ("auth", 401), ("api_key", 401), ("permission", 403),
                ("not_found", 404), ("context_length", 400), ("invalid", 400))


def error_in_body(body: bytes, model: str, secrets: tuple[str, ...] = ()) -> ApplicationError:
    """A 200 whose body is not a stream but the provider's error (some gateways answer so):
    its message kept, classified as the HTTP error it stands for (an unnamed one as a 503)."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, str):
        error = {"message": error}
    if not isinstance(error, dict):
        return ApplicationError(f"{model}: HTTP 200 without an event stream: {_short(body.decode(errors='replace'), secrets)}",
                                type="ProviderError")
    named = " ".join(str(error.get(key) or "") for key in ("type", "code", "status")).lower()
    numbers = [int(word) for word in named.split() if word.isdigit() and 400 <= int(word) < 600]
    status = numbers[0] if numbers else next((code for word, code in STATUS_WORDS if word in named), 503)
    text = _short(str(error.get("message") or json.dumps(error)), secrets)
    return for_status(status, f"{model}: HTTP 200 carrying an error (taken as {status}): {text}")


def error_in_stream(data: str, model: str, secrets: tuple[str, ...] = ()) -> ApplicationError:
    """An event of an answer's stream that is no piece of it: the provider's error sent
    mid-stream, classified as ``error_in_body`` does, or not a JSON object."""
    try:
        json.loads(data)
    except ValueError:
        return ApplicationError(f"{model}: a stream event that is not JSON: {_short(data, secrets)}", type="ProviderError")
    return error_in_body(data.encode(), model, secrets)


def _text_of(err: openai.OpenAIError) -> str:
    # The provider's message, not the whole response: it lands in history.
    text = getattr(err, "message", None) or str(err)
    body = getattr(err, "body", None)
    if isinstance(body, str) and body and body not in text:
        text = f"{text} - {body}"  # a plain-text error body the client left out
    return text


def _short(text: str, secrets: tuple[str, ...], limit: int = 500) -> str:
    text = redact(text, secrets)  # first: cut first, a key's head would no longer match it
    return text if len(text) <= limit else text[:limit] + "…"
