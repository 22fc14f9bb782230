"""``X402Middleware``: prices for any WSGI app (Flask, Django, Falcon, Bottle …)."""
from __future__ import annotations

import io
from typing import Any, Callable, Iterable, List, Mapping, Optional, Tuple, Union

from .client import GatewayClient, default_client
from .flow import Proceed, Reply, decide
from .routes import PathPattern, Price, normalize_path, route_of
from .wire import decide_request, merge_headers, small_length, status_line

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


class X402Middleware:
    """Charges for the requests of a WSGI app in USDC, through the 402x gateway.

    With ``routes``, the requests under them are priced here (a route's price, or
    ``{'price_per_token': …, 'max': …}``), paths under ``/__402x/`` (buying credit at
    ``/__402x/credits``) go to the gateway, and the rest pass through untouched. Without
    ``routes``, every request goes to the gateway, whose own routes table prices it
    (``402x gateway --config 402x.yaml``).

    A paid answer is buffered: it is sent only once ``finish`` settled it (with the receipt
    headers), or replaced by the gateway's answer (or a 503 when the gateway is down). The
    app reads who paid in ``environ['x402']``; a metered app sets ``environ['x402.units']``
    to the units it used, else the gateway counts them from the body.

    Args:
        app: the WSGI app.
        routes: ``{'POST /api/analyze': 0.05, 'GET /api/items/<id>': {...}}``, or ``None``.
        client: a :class:`GatewayClient`; by default one configured from the environment.

    Example:
        >>> app.wsgi_app = X402Middleware(app.wsgi_app, routes={'POST /api/analyze': 0.05})
    """

    def __init__(
        self,
        app: WsgiApp,
        routes: Optional[Mapping[str, Union[Price, Mapping[str, Any]]]] = None,
        client: Optional[GatewayClient] = None,
    ):
        self.app = app
        self.client = client
        self.routes = None if routes is None else [(PathPattern(key), route_of(value)) for key, value in routes.items()]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = normalize_path(environ.get('PATH_INFO') or '/')
        method = environ.get('REQUEST_METHOD', 'GET')
        route = pattern = None
        if self.routes is not None and path is not None:
            found = next((r for r in self.routes if r[0].matches(method, path)), None)
            if found is None and not path.startswith('/__402x/'):
                return self.app(environ, start_response)
            if found is not None:
                pattern, route = found[0].pattern, found[1]
        body = _read_body(environ)
        outcome = decide(self.client or default_client, decide_request(environ, body, route, pattern))
        if isinstance(outcome, Reply):
            return _send(start_response, outcome.status, outcome.headers, outcome.body)
        environ['x402'] = outcome.info
        if outcome.ticket is None:
            return self.app(environ, _adding(start_response, outcome.headers))
        return self._paid(environ, start_response, outcome)

    def _paid(self, environ: dict, start_response: Callable, outcome: Proceed) -> Iterable[bytes]:
        answer = _Buffered()
        try:
            answer.run(self.app, environ)
        except BaseException:
            outcome.fail(500)
            raise
        units = environ.get('x402.units')
        text = answer.text() if units is None else None
        content_type = next((v for k, v in answer.headers if k.lower() == 'content-type'), None)
        result = outcome.finish(answer.status_code, units=units, body=text, content_type=content_type)
        if isinstance(result, Reply):
            return _send(start_response, result.status, result.headers, result.body)
        return _send(start_response, answer.status, merge_headers(answer.headers, result), answer.body, raw=True)


class _Buffered:
    """An app's answer held whole: status, headers and body, its iterable closed."""

    def __init__(self) -> None:
        self.status = '500 Internal Server Error'
        self.headers: List[Tuple[str, str]] = []
        self.chunks: List[bytes] = []

    def start_response(self, status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Callable:
        # Nothing is sent before the app returns, so a later call (an error page, with
        # exc_info) simply replaces the earlier one (PEP 3333).
        try:
            self.status, self.headers = status, list(headers)
        finally:
            exc_info = None
        return self.chunks.append

    def run(self, app: WsgiApp, environ: dict) -> None:
        iterable = app(environ, self.start_response)
        try:
            for chunk in iterable:
                self.chunks.append(chunk)
        finally:
            close = getattr(iterable, 'close', None)
            if close is not None:
                close()

    @property
    def status_code(self) -> int:
        return int(self.status.split(' ', 1)[0])

    @property
    def body(self) -> bytes:
        return b''.join(self.chunks)

    def text(self) -> Optional[str]:
        try:
            return self.body.decode('utf-8')
        except UnicodeDecodeError:
            return None


def _read_body(environ: dict) -> Optional[bytes]:
    """A small body read for ``decide``, and put back for the app; a large one is left."""
    length = small_length(environ)
    if length is None:
        return None
    body = environ['wsgi.input'].read(length)
    environ['wsgi.input'] = io.BytesIO(body)
    return body


def _adding(start_response: Callable, added: Mapping[str, str]) -> Callable:
    """``start_response`` with the decision's headers added (a free request streams)."""
    if not added:
        return start_response

    def adding(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Callable:
        return start_response(status, merge_headers(list(headers), added), exc_info)

    return adding


def _send(
    start_response: Callable, status: Union[int, str], headers: List[Tuple[str, str]], body: bytes, raw: bool = False
) -> List[bytes]:
    """Sends a whole answer. ``raw``: the app's own headers, its length kept (HEAD)."""
    length = [v for n, v in headers if n.lower() == 'content-length']
    pairs = [(n, v) for n, v in headers if n.lower() != 'content-length']
    code = status if isinstance(status, int) else int(status.split(' ', 1)[0])
    if code not in (204, 304) and code >= 200:
        pairs.append(('Content-Length', length[0] if raw and length else str(len(body))))
    start_response(status if isinstance(status, str) else status_line(status), pairs)
    return [body]
