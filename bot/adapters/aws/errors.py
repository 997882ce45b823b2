"""AWS client failures sorted into the bot's transient and permanent errors, with a sentence."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from bot.domain.errors import PermanentError, TransientError

RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServerException",
        "InternalFailure",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException"}
)
BAD_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)


def error_code(e: BaseException) -> str:
    if isinstance(e, ClientError):
        return str(e.response.get("Error", {}).get("Code", ""))
    return ""


def aws_error(
    e: BotoCoreError | ClientError, *, action: str, not_found: str | None = None
) -> TransientError | PermanentError:
    """The domain error for a failed AWS call; `action` completes "could not …" in plain words
    ("look up EKS cluster 'x' in region y"), `not_found` is the sentence for a 404."""
    if isinstance(e, BotoConnectionError | HTTPClientError):
        return TransientError(f"Could not reach AWS to {action}: {e}")
    if isinstance(e, NoCredentialsError):
        return PermanentError(f"The bot has no AWS credentials, so it cannot {action}.")
    if not isinstance(e, ClientError):
        return PermanentError(f"Could not {action}: {e}")
    code = error_code(e)
    message = e.response.get("Error", {}).get("Message", "")
    status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code == "ResourceNotFoundException" and not_found:
        return PermanentError(not_found)
    if code in DENIED_CODES:
        return PermanentError(
            f"The bot's AWS identity is not allowed to {action} ({code}: {message})."
        )
    if code in BAD_CREDENTIAL_CODES:
        return PermanentError(
            f"AWS rejected the bot's credentials when trying to {action} ({code})."
        )
    if code in RETRYABLE_CODES or status >= 500:
        return TransientError(f"AWS could not {action} right now ({code or status}).")
    return PermanentError(f"AWS refused to {action} ({code}: {message}).")
