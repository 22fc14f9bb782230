"""What every adapter does around a handler: decide, run it, finish. Adapters only translate."""
from __future__ import annotations

import logging
from typing import Dict, List, NamedTuple, Optional, Tuple, Union

from .client import GatewayClient
from .errors import GatewayUnavailable, X402Error
from .wire import header_pairs, not_served, unavailable, withheld

log = logging.getLogger('x402_api')


class Reply(NamedTuple):
    """An answer to send instead of the handler's: status, WSGI header pairs, body."""

    status: int
    headers: List[Tuple[str, str]]
    body: bytes


class Proceed:
    """A decision to run the handler, then :meth:`finish` (or :meth:`fail`) once it answered.

    Attributes:
        info: what the handler may read (``flask.g.x402``, ``environ['x402']``): ``caller``
            (who paid and how, or ``None``), ``consumer`` (the ``x-402x-consumer`` header),
            ``headers`` (the decision's headers) and ``ticket``.
    """

    def __init__(self, client: GatewayClient, gateway: str, decision: dict):
        self.client = client
        self.gateway = gateway
        self.ticket: Optional[str] = decision.get('ticket')
        self.headers: Dict[str, str] = dict(decision.get('headers') or {})
        self.info = {
            'caller': decision.get('caller'),
            'consumer': self.headers.get('x-402x-consumer'),
            'headers': dict(self.headers),
            'ticket': self.ticket,
        }

    def finish(
        self,
        status: int,
        units: Optional[float] = None,
        body: Optional[str] = None,
        content_type: Optional[str] = None,
    ) -> Union[Reply, Dict[str, str]]:
        """Settles or releases by the handler's status: the headers to add to its answer, or
        a :class:`Reply` to send instead (the gateway's, or a 503 when ``finish`` failed)."""
        if self.ticket is None:
            return self.headers
        try:
            answer = self.client.finish(
                self.gateway, self.ticket, status, units=units, body=body, content_type=content_type
            )
        except X402Error as error:
            log.warning('402x finish failed, the answer is withheld: %s', error)
            return Reply(*unavailable(withheld(error)))
        if answer.get('action') == 'send':
            return dict(answer.get('headers') or {})
        if answer.get('action') == 'respond':
            return reply_of(answer)
        error = GatewayUnavailable(f'the 402x gateway at {self.gateway} answered finish with {answer!r}')
        log.warning('402x finish failed, the answer is withheld: %s', error)
        return Reply(*unavailable(withheld(error)))

    def fail(self, status: int = 500) -> None:
        """The handler raised: release the payment (nothing charged). Never raises."""
        if self.ticket is None:
            return
        try:
            self.client.finish(self.gateway, self.ticket, status)
        except X402Error as error:
            # The gateway releases an unfinished ticket when it expires.
            log.warning('402x finish after a failed handler did not reach the gateway: %s', error)


def decide(client: GatewayClient, request: dict) -> Union[Reply, Proceed]:
    """Asks the gateway about a request: a :class:`Reply` to send as it is (a 402, a 429, or
    the 503 of fail closed), or :class:`Proceed`.

    Raises:
        GatewayNotConfigured: no gateway is named.
        GatewayRefused: the gateway refused the call (a bad token, a bad declared price).
    """
    try:
        gateway, decision = client.decide(request)
    except GatewayUnavailable as error:
        log.warning('402x decide failed, the request is not served: %s', error)
        return Reply(*unavailable(not_served(error)))
    action = decision.get('action')
    if action == 'respond':
        return reply_of(decision)
    if action == 'proceed':
        return Proceed(client, gateway, decision)
    error = GatewayUnavailable(f'the 402x gateway at {gateway} answered decide with action {action!r}')
    return Reply(*unavailable(not_served(error)))


def reply_of(answer: dict) -> Reply:
    """A ``respond`` action as a :class:`Reply`."""
    body = answer.get('body') or ''
    return Reply(int(answer.get('status') or 502), header_pairs(answer.get('headers') or {}), body.encode('utf-8'))
