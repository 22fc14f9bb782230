"""The faults of the 402x client: one base class, a code each, the cause kept."""
from __future__ import annotations


class X402Error(Exception):
    """Base of every 402x fault.

    Attributes:
        code: snake_case code, e.g. ``gateway_unavailable``.
        message: what happened and what to do next.
        retryable: whether the same call may succeed later.
    """

    code = 'x402_error'
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        #: The gateway's HTTP status, when it answered.
        self.status = status


class GatewayNotConfigured(X402Error):
    """No gateway is named: neither ``X402_GATEWAY_URL`` nor a running ``402x dev``."""

    code = 'gateway_not_configured'


class GatewayUnavailable(X402Error):
    """The gateway could not be reached, timed out, or answered 5xx or something not JSON.

    The request is answered 503 and the protected code does not run (fail closed).
    """

    code = 'gateway_unavailable'
    retryable = True


class GatewayRefused(X402Error):
    """The gateway refused the call itself (4xx: a bad token, a bad declared price …).

    A mistake of the app's setup, not of its caller: it is raised, so the server logs it.
    """
