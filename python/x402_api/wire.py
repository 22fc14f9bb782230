"""A WSGI request as the JSON of ``POST /__402x/decide``, and the gateway's answers as WSGI."""
from __future__ import annotations

import base64
import json
from http import HTTPStatus
from typing import Any, List, Mapping, Optional, Tuple
from wsgiref.util import request_uri

#: The largest request body sent to the gateway (only routes whose price reads it need it).
MAX_BODY = 1024 * 1024

# Connection-level headers belong to the server that sends the answer, not to it.
_hop = {'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'te', 'trailer'}


def url_of(environ: Mapping[str, Any]) -> str:
    """The URL the caller used, with the path as it was sent when the server kept it."""
    raw = environ.get('REQUEST_URI') or environ.get('RAW_URI')
    if isinstance(raw, str) and raw.startswith('/'):
        scheme = environ.get('wsgi.url_scheme', 'http')
        host = environ.get('HTTP_HOST') or '%s:%s' % (environ.get('SERVER_NAME'), environ.get('SERVER_PORT'))
        return f'{scheme}://{host}{raw}'
    return request_uri(environ, include_query=True)


def headers_of(environ: Mapping[str, Any]) -> dict:
    """The request's headers, lower-case names (WSGI has already joined repeated ones)."""
    out = {}
    for key, value in environ.items():
        if key.startswith('HTTP_'):
            out[key[5:].replace('_', '-').lower()] = value
    for key in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
        if environ.get(key):
            out[key.replace('_', '-').lower()] = environ[key]
    return out


def decide_request(
    environ: Mapping[str, Any],
    body: Optional[bytes],
    route: Optional[dict] = None,
    pattern: Optional[str] = None,
    url: Optional[str] = None,
) -> dict:
    """The JSON of ``decide`` for a request; ``body`` only when it is small (else ``None``)."""
    out: dict = {
        'method': environ.get('REQUEST_METHOD', 'GET'),
        'url': url or url_of(environ),
        'headers': headers_of(environ),
    }
    if body:
        try:
            out['body'] = body.decode('utf-8')
        except UnicodeDecodeError:
            out['bodyBase64'] = base64.b64encode(body).decode('ascii')
    if environ.get('REMOTE_ADDR'):
        out['ip'] = environ['REMOTE_ADDR']
    if route is not None:
        out['route'] = route
        if pattern:
            out['pattern'] = pattern
    return out


def small_length(environ: Mapping[str, Any]) -> Optional[int]:
    """The declared body length when it is at most :data:`MAX_BODY`, else ``None``."""
    try:
        length = int(environ.get('CONTENT_LENGTH') or 0)
    except ValueError:
        return None
    return length if 0 < length <= MAX_BODY else None


def status_line(status: int) -> str:
    """``402`` → ``'402 Payment Required'``."""
    try:
        return f'{status} {HTTPStatus(status).phrase}'
    except ValueError:
        return f'{status} Unknown'


def header_pairs(headers: Mapping[str, str]) -> List[Tuple[str, str]]:
    """The gateway's headers as WSGI pairs, without connection-level ones."""
    return [(name, str(value)) for name, value in headers.items() if name.lower() not in _hop]


def merge_headers(pairs: List[Tuple[str, str]], added: Mapping[str, str]) -> List[Tuple[str, str]]:
    """``pairs`` with ``added`` set (a name already there is replaced)."""
    names = {name.lower() for name in added}
    return [(n, v) for n, v in pairs if n.lower() not in names] + header_pairs(added)


def unavailable(message: str) -> Tuple[int, List[Tuple[str, str]], bytes]:
    """The 503 of fail closed: ``{"error": "gateway_unavailable", "message": …}``."""
    body = json.dumps({'error': 'gateway_unavailable', 'message': message}).encode('utf-8')
    headers = [('Content-Type', 'application/json'), ('Cache-Control', 'no-store'), ('Retry-After', '5')]
    return 503, headers, body


def not_served(gateway_error: Exception) -> str:
    """The message of a 503 before the handler ran."""
    return (
        f'{gateway_error}: the request was not served and nothing was charged. Retry shortly; '
        'if it persists, the operator must start the gateway (`402x gateway`, or `402x dev` locally) '
        'or fix X402_GATEWAY_URL.'
    )


def withheld(gateway_error: Exception) -> str:
    """The message of a 503 after the handler ran but ``finish`` failed."""
    return (
        f'{gateway_error}: the payment could not be confirmed, so the answer is withheld. A payment the '
        'gateway did not settle is released when its ticket expires, and one it settled is in its ledger. '
        'Retry the request.'
    )
