"""``@require_payment``: a price on one Flask view."""
from __future__ import annotations

import functools
from typing import Any, Callable, Optional

from .client import GatewayClient, default_client
from .flow import Reply, decide
from .routes import Price, gateway_pattern, route_spec
from .wire import decide_request, small_length


def require_payment(
    price: Optional[Price] = None,
    price_per_token: Optional[Price] = None,
    max: Optional[Price] = None,  # noqa: A002 (the seed's name)
    description: Optional[str] = None,
    *,
    client: Optional[GatewayClient] = None,
) -> Callable:
    """Charges for a Flask view in USDC, through the 402x gateway.

    Before the view runs, the gateway decides: an unpaid call gets its 402 (and the view
    does not run); a paid one (x402 payment, credit token, API key) runs it. Its answer
    settles the payment: below 400 it is charged and gets the receipt headers; 400 or more,
    or an exception, charges nothing. If the gateway is down, the view does not run and the
    caller gets 503 ``gateway_unavailable``.

    The view reads who paid in ``flask.g.x402`` (also ``request.environ['x402']``):
    ``{'caller': …, 'consumer': '0x…', 'headers': {…}, 'ticket': …}``. A metered view
    (``price_per_token=``) sets ``flask.g.x402_units`` to the tokens it used; else the
    gateway counts them from the response body.

    Args:
        price: dollars per request, e.g. ``0.05``.
        price_per_token: dollars per token (metered); with ``max``, the most one call costs.
        max: the metered maximum in dollars: what the 402 asks for and credit reserves.
        description: what the caller pays for, shown in the 402.
        client: a :class:`GatewayClient`; by default one configured from the environment.

    Example:
        >>> @app.route('/api/analyze', methods=['POST'])
        ... @require_payment(price=0.05)
        ... def analyze():
        ...     return jsonify(your_analysis_function(request.json))
    """
    route = route_spec(price=price, price_per_token=price_per_token, max=max, description=description)
    metered = price_per_token is not None

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def paid_view(*args: Any, **kwargs: Any) -> Any:
            import flask

            request = flask.request
            body = request.get_data(cache=True) if small_length(request.environ) else None
            rule = request.url_rule.rule if request.url_rule is not None else request.path
            wire = decide_request(request.environ, body, route, gateway_pattern(request.method, rule), request.url)
            outcome = decide(client or default_client, wire)
            if isinstance(outcome, Reply):
                return _response(outcome)
            flask.g.x402 = request.environ['x402'] = outcome.info
            try:
                response = flask.current_app.make_response(view(*args, **kwargs))
            except BaseException as error:
                # Release first: Flask answers the exception (500, or an HTTPException's code).
                outcome.fail(_status_of(error))
                raise
            units = flask.g.get('x402_units')
            text = _text(response) if metered and units is None and outcome.ticket else None
            result = outcome.finish(response.status_code, units=units, body=text, content_type=response.content_type)
            if isinstance(result, Reply):
                response.close()
                return _response(result)
            for name, value in result.items():
                response.headers[name] = value
            return response

        return paid_view

    return decorate


def _response(reply: Reply) -> Any:
    import flask

    return flask.Response(reply.body, status=reply.status, headers=reply.headers)


def _status_of(error: BaseException) -> int:
    """An ``abort(404)`` is a 404; anything else a 500 (an exception is never charged)."""
    code = getattr(error, 'code', None)
    return code if isinstance(code, int) and 400 <= code <= 599 else 500


def _text(response: Any) -> Optional[str]:
    """The body as text, for the gateway to count; ``None`` for a file or binary answer."""
    try:
        return response.get_data().decode('utf-8')
    except (RuntimeError, UnicodeDecodeError):
        return None
