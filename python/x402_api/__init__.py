"""Charge for a Flask or WSGI API in USDC over x402, through the 402x gateway.

The gateway (``402x gateway``, or ``402x dev`` locally) decides around each request
(docs/decision-service.md); this package asks it and applies the answer. Standard library
only; Flask is needed only for :func:`require_payment`.

Example:
    >>> from x402_api import require_payment
    >>> @app.route('/api/analyze', methods=['POST'])
    ... @require_payment(price=0.05)
    ... def analyze():
    ...     return jsonify(your_analysis_function(request.json))
"""
from .client import GatewayClient
from .discovery import find_gateway_url
from .errors import GatewayNotConfigured, GatewayRefused, GatewayUnavailable, X402Error
from .flask_adapter import require_payment
from .wsgi import X402Middleware

__all__ = [
    'GatewayClient',
    'GatewayNotConfigured',
    'GatewayRefused',
    'GatewayUnavailable',
    'X402Error',
    'X402Middleware',
    'find_gateway_url',
    'require_payment',
]
__version__ = '0.1.0'
