"""The decision service's three calls (docs/decision-service.md) over plain urllib."""
from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.error
import urllib.request
from typing import Any, Mapping, Tuple

from .discovery import find_gateway_url
from .errors import GatewayRefused, GatewayUnavailable

# No proxies from the environment (the gateway sits next to the app) and no keep-alive:
# each call is one connection, so one opener serves every thread.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class GatewayClient:
    """Calls ``POST /__402x/decide``, ``/finish`` and ``/abort`` on a 402x gateway.

    Every setting left ``None`` is read from the environment at each call:

    Args:
        url: the gateway's URL. Default: ``X402_GATEWAY_URL``, else a running ``402x dev``.
        token: sent as ``Authorization: Bearer``. Default: ``X402_GATEWAY_TOKEN``, if set.
        timeout: seconds per call. Default: ``X402_GATEWAY_TIMEOUT``, else 10.

    Thread-safe: it keeps no state between calls.

    Example:
        >>> client = GatewayClient(url='http://127.0.0.1:4023')
        >>> gateway, decision = client.decide({'method': 'GET', 'url': 'http://127.0.0.1:5000/x'})
    """

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float | None = None):
        self.url = url.rstrip('/') if url else None
        self.token = token
        self.timeout = timeout

    def gateway_url(self) -> str:
        """The URL the next ``decide`` goes to (raises :class:`GatewayNotConfigured`)."""
        return self.url or find_gateway_url()

    def decide(self, request: Mapping[str, Any]) -> Tuple[str, dict]:
        """Asks what to do with a request. Returns the gateway's URL (``finish`` must go
        there: tickets live in the instance that issued them) and its decision."""
        gateway = self.gateway_url()
        return gateway, self._post(gateway, '/__402x/decide', request)

    def finish(
        self,
        gateway: str,
        ticket: str,
        status: int,
        units: float | None = None,
        body: str | None = None,
        content_type: str | None = None,
    ) -> dict:
        """Reports the handler's status (and ``units``, or ``body`` and its ``content_type``,
        on metered routes) to the gateway that answered ``decide``; returns ``send`` or
        ``respond``."""
        payload: dict = {'ticket': ticket, 'status': status}
        if units is not None:
            payload['units'] = units
        elif body is not None:
            payload['body'] = body
            if content_type:
                payload['contentType'] = content_type
        return self._post(gateway, '/__402x/finish', payload)

    def abort(self, gateway: str, ticket: str, reason: str | None = None) -> dict:
        """Releases a ticket early (the caller went away): nothing is charged."""
        payload = {'ticket': ticket, **({'reason': reason} if reason else {})}
        return self._post(gateway, '/__402x/abort', payload)

    def _post(self, gateway: str, path: str, payload: Mapping[str, Any]) -> dict:
        headers = {'content-type': 'application/json', 'accept': 'application/json', 'connection': 'close'}
        token = self.token if self.token is not None else os.environ.get('X402_GATEWAY_TOKEN')
        if token:
            headers['authorization'] = f'Bearer {token}'
        data = json.dumps(payload, separators=(',', ':')).encode('utf-8')
        call = urllib.request.Request(gateway + path, data=data, headers=headers, method='POST')
        timeout = self._timeout()
        try:
            with _opener.open(call, timeout=timeout) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, _read(error)
        except (urllib.error.URLError, http.client.HTTPException, socket.timeout, OSError, ValueError) as error:
            reason = getattr(error, 'reason', error)
            raise GatewayUnavailable(
                f'the 402x gateway at {gateway} could not be reached ({reason})', code='gateway_unavailable'
            ) from error
        answer = _json(text)
        if status >= 500 or not isinstance(answer, dict):
            what = f'answered {status}' if status >= 500 else f'answered {status} with something not JSON'
            detail = f": {answer.get('error')}: {answer.get('message')}" if isinstance(answer, dict) else ''
            raise GatewayUnavailable(f'the 402x gateway at {gateway} {what}{detail}', status=status)
        if status >= 300:
            code = str(answer.get('error') or 'gateway_refused')
            message = answer.get('message') or f'answered {status}'
            message = f'the 402x gateway at {gateway} refused {path}: {code}: {message}'
            raise GatewayRefused(message, code=code, status=status)
        return answer

    def _timeout(self) -> float:
        if self.timeout is not None:
            return self.timeout
        given = os.environ.get('X402_GATEWAY_TIMEOUT')
        if not given:
            return 10.0
        try:
            seconds = float(given)
        except ValueError:
            seconds = 0.0
        if seconds <= 0:
            raise ValueError(
                f'X402_GATEWAY_TIMEOUT={given!r} is not a number of seconds above 0: e.g. X402_GATEWAY_TIMEOUT=10'
            )
        return seconds


def _read(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except OSError:
        return b''
    finally:
        error.close()


def _json(text: bytes) -> Any:
    try:
        return json.loads(text.decode('utf-8'))
    except ValueError:
        return None


#: The client ``require_payment`` and ``X402Middleware`` use unless given one.
default_client = GatewayClient()
