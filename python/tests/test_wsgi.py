"""X402Middleware against a scripted gateway: fail closed, buffering, finish (no Flask needed)."""
import io
import json
import os
import unittest
from unittest import mock
from wsgiref.util import setup_testing_defaults

from fake_gateway import CHALLENGE, PROCEED, SEND, FakeGateway, closed_port_url
from x402_api import GatewayClient, X402Middleware


class Recorded:
    """An app that counts its runs and answers 200 ``{"ok": true}`` (or raises)."""

    def __init__(self, fail=False, status='200 OK', on_run=None):
        self.runs = 0
        self.closed = 0
        self.fail, self.status, self.on_run = fail, status, on_run

    def __call__(self, environ, start_response):
        self.runs += 1
        self.environ = environ
        if self.on_run:
            self.on_run(environ)
        if self.fail:
            raise RuntimeError('the app failed')
        start_response(self.status, [('Content-Type', 'application/json')])
        app = self

        class Body:
            def __iter__(self):
                yield b'{"ok":'
                yield b' true}'

            def close(self):
                app.closed += 1

        return Body()


def call(middleware, path='/api/x', method='GET', body=b'', headers=None):
    environ = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'wsgi.input': io.BytesIO(body)}
    if body:
        environ['CONTENT_LENGTH'] = str(len(body))
    environ.update(headers or {})
    setup_testing_defaults(environ)
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen['status'], seen['headers'] = status, dict(headers)

    out = b''.join(middleware(environ, start_response))
    return int(seen['status'].split()[0]), seen['headers'], out


class FailClosed(unittest.TestCase):
    def test_unreachable_gateway_is_503_and_the_app_does_not_run(self):
        app = Recorded()
        status, headers, body = call(X402Middleware(app, client=GatewayClient(url=closed_port_url())))
        self.assertEqual(status, 503)
        self.assertEqual(json.loads(body)['error'], 'gateway_unavailable')
        self.assertIn('X402_GATEWAY_URL', json.loads(body)['message'])
        self.assertEqual(app.runs, 0)

    def test_5xx_non_json_and_timeout_are_503(self):
        for answer in [(503, b'{"error":"store_unavailable","message":"down"}'), (200, b'<html>'), 'slow']:
            gateway = FakeGateway({'/__402x/decide': answer})
            try:
                app = Recorded()
                client = GatewayClient(url=gateway.url, timeout=0.5)
                status, _, _ = call(X402Middleware(app, client=client))
                self.assertEqual((status, app.runs), (503, 0), answer)
            finally:
                gateway.close()

    def test_a_failed_finish_withholds_the_paid_answer(self):
        gateway = FakeGateway({'/__402x/decide': PROCEED, '/__402x/finish': (404, b'{"error":"ticket_unknown"}')})
        try:
            app = Recorded()
            status, _, body = call(X402Middleware(app, client=GatewayClient(url=gateway.url)))
            self.assertEqual((status, app.runs), (503, 1))
            self.assertNotIn(b'ok', body)
            self.assertIn('ticket_unknown', json.loads(body)['message'])
        finally:
            gateway.close()


class Decisions(unittest.TestCase):
    def setUp(self):
        self.gateway = FakeGateway({'/__402x/decide': PROCEED, '/__402x/finish': SEND})
        self.client = GatewayClient(url=self.gateway.url)

    def tearDown(self):
        self.gateway.close()

    def test_respond_is_sent_as_it_is_without_running_the_app(self):
        self.gateway.answers['/__402x/decide'] = CHALLENGE
        app = Recorded()
        status, headers, body = call(X402Middleware(app, client=self.client))
        self.assertEqual((status, body, app.runs), (402, b'{"error":"payment_required"}', 0))
        self.assertEqual(headers['payment-required'], 'eyJ')
        self.assertEqual(headers['Content-Length'], str(len(body)))

    def test_a_paid_answer_gets_the_receipt_and_its_iterable_is_closed(self):
        app = Recorded()
        status, headers, body = call(X402Middleware(app, client=self.client), method='POST', body=b'{"a":1}')
        self.assertEqual((status, body, headers['payment-response']), (200, b'{"ok": true}', 'eyJ'))
        self.assertEqual(app.closed, 1)
        self.assertEqual(app.environ['x402']['consumer'], '0xabc')
        self.assertEqual(app.environ['wsgi.input'].read(), b'{"a":1}')  # the body is put back
        decide = self.gateway.calls[0][1]
        self.assertEqual((decide['method'], decide['body'], 'route' in decide), ('POST', '{"a":1}', False))
        self.assertEqual(self.gateway.calls[1][1], {'ticket': 't_1', 'status': 200, 'body': '{"ok": true}', 'contentType': 'application/json'})

    def test_a_failing_app_releases_the_payment_then_raises(self):
        with self.assertRaises(RuntimeError):
            call(X402Middleware(Recorded(fail=True), client=self.client))
        self.assertEqual(self.gateway.calls[1][1], {'ticket': 't_1', 'status': 500})

    def test_finish_respond_replaces_the_answer_and_units_are_sent(self):
        self.gateway.answers['/__402x/finish'] = dict(CHALLENGE, status=502, body='{"error":"metered_over_max"}')
        app = Recorded(on_run=lambda environ: environ.__setitem__('x402.units', 7))
        status, _, body = call(X402Middleware(app, client=self.client))
        self.assertEqual((status, body), (502, b'{"error":"metered_over_max"}'))
        self.assertEqual(self.gateway.calls[1][1], {'ticket': 't_1', 'status': 200, 'units': 7})

    def test_finish_goes_to_the_gateway_that_answered_decide(self):
        other = FakeGateway({})
        try:
            moved = lambda environ: os.environ.__setitem__('X402_GATEWAY_URL', other.url)  # noqa: E731
            with mock.patch.dict(os.environ, {'X402_GATEWAY_URL': self.gateway.url, 'X402_GATEWAY_TOKEN': 's3'}):
                status, _, _ = call(X402Middleware(Recorded(on_run=moved), client=GatewayClient()))
            self.assertEqual(status, 200)
            self.assertEqual(self.gateway.paths(), ['/__402x/decide', '/__402x/finish'])
            self.assertEqual(other.calls, [])
            self.assertEqual(self.gateway.calls[1][2]['authorization'], 'Bearer s3')
        finally:
            other.close()

    def test_a_free_decision_streams_with_its_headers_and_no_finish(self):
        self.gateway.answers['/__402x/decide'] = {'action': 'proceed', 'ticket': None, 'headers': {'ratelimit': 'x'}}
        status, headers, body = call(X402Middleware(Recorded(), client=self.client))
        self.assertEqual((status, headers['ratelimit'], body), (200, 'x', b'{"ok": true}'))
        self.assertEqual(self.gateway.paths(), ['/__402x/decide'])

    def test_routes_price_their_paths_however_spelled_and_pass_the_rest(self):
        middleware = X402Middleware(Recorded(), routes={'GET /api/items/<id>': 0.02}, client=self.client)
        call(middleware, path='/free')
        self.assertEqual(self.gateway.calls, [])
        call(middleware, path='/API//items/3/')
        decide = self.gateway.calls[0][1]
        self.assertEqual((decide['route'], decide['pattern']), ({'price': 0.02}, 'GET /api/items/:id'))
        call(middleware, path='/__402x/credits', method='POST')
        self.assertNotIn('route', self.gateway.calls[-1][1])

    def test_head_of_a_get_route_and_options_of_any_route_go_to_the_gateway(self):
        # The app serves every method (Flask serves HEAD with the GET view): only the gateway's
        # answer (402 for HEAD, 204 for OPTIONS) keeps it from running unpaid.
        self.gateway.answers['/__402x/decide'] = CHALLENGE
        app = Recorded()
        middleware = X402Middleware(app, routes={'GET /paid': 0.01, 'POST /form': 0.01}, client=self.client)
        for method, path in [('HEAD', '/paid'), ('OPTIONS', '/paid'), ('OPTIONS', '/form')]:
            status, _, _ = call(middleware, path=path, method=method)
            self.assertEqual(status, 402, (method, path))
            self.assertEqual(self.gateway.calls[-1][1]['method'], method)
        self.assertEqual(self.gateway.calls[0][1]['pattern'], 'GET /paid')
        self.assertEqual(app.runs, 0)
        call(middleware, path='/form', method='HEAD')  # HEAD is under GET only
        self.assertEqual((len(self.gateway.calls), app.runs), (3, 1))


if __name__ == '__main__':
    unittest.main()
