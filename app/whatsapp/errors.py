"""Meta's error codes, classified into the failure reasons Parley acts on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailureReason(StrEnum):
    RATE_LIMITED = "RATE_LIMITED"
    PAIR_RATE_LIMITED = "PAIR_RATE_LIMITED"
    OUTSIDE_WINDOW = "OUTSIDE_WINDOW"
    UNDELIVERABLE = "UNDELIVERABLE"
    OPTED_OUT_MARKETING = "OPTED_OUT_MARKETING"
    UNSUPPORTED = "UNSUPPORTED"
    INVALID_PARAMETER = "INVALID_PARAMETER"
    TEMPLATE_ERROR = "TEMPLATE_ERROR"
    AUTH_INVALID = "AUTH_INVALID"
    ACCOUNT_RESTRICTED = "ACCOUNT_RESTRICTED"
    TRANSIENT = "TRANSIENT"
    UNKNOWN = "UNKNOWN"

    @property
    def device_status(self) -> str | None:
        """The Device status this failure forces: it concerns the number, not the message."""
        return _DEVICE_STATUS.get(self)


_DEVICE_STATUS = {
    FailureReason.AUTH_INVALID: "DISCONNECTED",
    FailureReason.ACCOUNT_RESTRICTED: "FAILED",
}


@dataclass(frozen=True, slots=True)
class Classification:
    failure: FailureReason
    retryable: bool


_RETRY = {
    130429: FailureReason.RATE_LIMITED,
    4: FailureReason.RATE_LIMITED,
    80007: FailureReason.RATE_LIMITED,
    131056: FailureReason.PAIR_RATE_LIMITED,
    131000: FailureReason.TRANSIENT,
}
_PERMANENT = {
    131047: FailureReason.OUTSIDE_WINDOW,
    131026: FailureReason.UNDELIVERABLE,
    131050: FailureReason.OPTED_OUT_MARKETING,
    131051: FailureReason.UNSUPPORTED,
    131053: FailureReason.UNSUPPORTED,  # media upload error: too large, or a type Meta refuses
    100: FailureReason.INVALID_PARAMETER,  # Graph's generic "invalid parameter" / unknown object id
    131008: FailureReason.INVALID_PARAMETER,
    131009: FailureReason.INVALID_PARAMETER,
    132000: FailureReason.TEMPLATE_ERROR,
    132001: FailureReason.TEMPLATE_ERROR,
    132005: FailureReason.TEMPLATE_ERROR,
    132007: FailureReason.TEMPLATE_ERROR,
    132012: FailureReason.TEMPLATE_ERROR,
    132015: FailureReason.TEMPLATE_ERROR,
    132016: FailureReason.TEMPLATE_ERROR,
    190: FailureReason.AUTH_INVALID,
    368: FailureReason.ACCOUNT_RESTRICTED,
    131031: FailureReason.ACCOUNT_RESTRICTED,
}


def classify(code: int | None, http_status: int | None = None) -> Classification:
    """Classify a Graph API error; a known code wins over the HTTP status it came with."""
    if code in _RETRY:
        return Classification(_RETRY[code], retryable=True)
    if code in _PERMANENT:
        return Classification(_PERMANENT[code], retryable=False)
    if http_status == 429:
        return Classification(FailureReason.RATE_LIMITED, retryable=True)
    if http_status is not None and http_status >= 500:
        return Classification(FailureReason.TRANSIENT, retryable=True)
    if http_status == 401:
        return Classification(FailureReason.AUTH_INVALID, retryable=False)
    return Classification(FailureReason.UNKNOWN, retryable=False)


class WhatsAppError(Exception):
    pass


class ProviderError(WhatsAppError):
    """A send or mark-read the provider could not complete.

    ``retryable`` means trying the same call later may succeed; the provider has already spent its
    own in-call retries by the time this is raised.
    """

    def __init__(
        self,
        message: str,
        *,
        failure: FailureReason,
        retryable: bool,
        code: int | None = None,
        http_status: int | None = None,
        details: str | None = None,
        subcode: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.failure = failure
        self.retryable = retryable
        self.code = code
        self.http_status = http_status
        self.details = details
        self.subcode = subcode  # Meta's error_subcode, e.g. 2388024: template name taken

    @classmethod
    def from_code(
        cls,
        message: str,
        *,
        code: int | None,
        http_status: int | None = None,
        details: str | None = None,
        subcode: int | None = None,
    ) -> ProviderError:
        kind = classify(code, http_status)
        return cls(
            message,
            failure=kind.failure,
            retryable=kind.retryable,
            code=code,
            http_status=http_status,
            details=details,
            subcode=subcode,
        )

    def __str__(self) -> str:
        code = f" (code {self.code})" if self.code is not None else ""
        return f"{self.failure}{code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"ProviderError(failure={self.failure!s}, code={self.code}, "
            f"http_status={self.http_status}, retryable={self.retryable}, message={self.message!r})"
        )


class MalformedWebhook(WhatsAppError):
    """The body is not a WhatsApp Business Account webhook envelope."""
