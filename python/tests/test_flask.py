"""@require_payment against a scripted gateway (skipped where Flask is not installed)."""
import json
import os
import unittest
from unittest import mock

from fake_gateway import CHALLENGE, PROCEED, SEND, FakeGateway, closed_port_url

try:
    import flask
except ImportError:  # the vitest suite requires Flask; here it is optional
    flask = None

from x402_api import GatewayClient, require_payment


def make_app(client, runs):
    app = flask.Flask(__name__)
    app.logger.disabled = True  # the tests assert the failures it would log

    @app.route('/api/analyze', methods=['POST'])
    @require_payment(price=0.05, client=client)
    def analyze():
        runs.append(flask.g.x402['consumer'])
        return flask.jsonify({'ok': True})

    @app.route('/api/items/<int:item>')
    @require_payment(price_per_token=0.001, max=0.01, client=client)
    def items(item):
        runs.append(item)
        if item == 0:
            raise RuntimeError('the view failed')
        flask.g.x402_units = item
        return flask.jsonify({'item': item})

    return app


@unittest.skipIf(flask is None, 'Flask is not installed')
class RequirePayment(unittest.TestCase):
    def setUp(self):
        self.gateway = FakeGateway({'/__402x/decide': PROCEED, '/__402x/finish': SEND})
        self.runs = []
        self.http = make_app(GatewayClient(url=self.gateway.url), self.runs).test_client()

    def tearDown(self):
        self.gateway.close()

    def test_an_unpaid_call_gets_the_challenge_and_the_view_does_not_run(self):
        self.gateway.answers['/__402x/decide'] = CHALLENGE
        answer = self.http.post('/api/analyze', json={'text': 'hi'}, headers={'X-402-Payment': 'eyJ'})
        self.assertEqual((answer.status_code, answer.headers['payment-required'], self.runs), (402, 'eyJ', []))
        decide = self.gateway.calls[0][1]
        self.assertEqual(decide['route'], {'price': 0.05})
        self.assertEqual(decide['pattern'], 'POST /api/analyze')
        self.assertEqual((decide['url'], decide['body']), ('http://localhost/api/analyze', '{"text": "hi"}'))
        self.assertEqual(decide['headers']['x-402-payment'], 'eyJ')

    def test_a_paid_call_runs_the_view_and_gets_the_receipt(self):
        answer = self.http.post('/api/analyze', json={})
        self.assertEqual((answer.status_code, answer.json, self.runs), (200, {'ok': True}, ['0xabc']))
        self.assertEqual(answer.headers['payment-response'], 'eyJ')
        self.assertEqual(self.gateway.calls[1][1], {'ticket': 't_1', 'status': 200})

    def test_a_metered_view_reports_its_units_and_a_failing_one_releases(self):
        answer = self.http.get('/api/items/7')
        self.assertEqual(answer.status_code, 200)
        self.assertEqual(self.gateway.calls[0][1]['route'], {'pricePerToken': 0.001, 'max': 0.01})
        self.assertEqual(self.gateway.calls[0][1]['pattern'], 'GET /api/items/:item')
        self.assertEqual(self.gateway.calls[1][1], {'ticket': 't_1', 'status': 200, 'units': 7})
        self.assertEqual(self.http.get('/api/items/0').status_code, 500)
        self.assertEqual(self.gateway.calls[3][1], {'ticket': 't_1', 'status': 500})

    def test_a_failed_finish_withholds_the_answer(self):
        self.gateway.answers['/__402x/finish'] = (500, b'{"error":"facilitator_unavailable"}')
        answer = self.http.post('/api/analyze', json={})
        self.assertEqual((answer.status_code, answer.json['error'], self.runs), (503, 'gateway_unavailable', ['0xabc']))

    def test_the_gateway_down_is_503_and_the_view_does_not_run(self):
        http = make_app(GatewayClient(url=closed_port_url()), self.runs).test_client()
        answer = http.post('/api/analyze', json={})
        self.assertEqual((answer.status_code, answer.json['error'], self.runs), (503, 'gateway_unavailable', []))

    def test_no_gateway_named_is_an_error_naming_the_fix(self):
        app = make_app(GatewayClient(), self.runs)
        app.testing = True  # raise instead of answering 500
        with mock.patch.dict(os.environ, {'X402_STATE_DIR': '/nonexistent'}):
            os.environ.pop('X402_GATEWAY_URL', None)
            with self.assertRaisesRegex(Exception, 'X402_GATEWAY_URL.*402x dev'):
                app.test_client().post('/api/analyze', json={})
        self.assertEqual(self.runs, [])


if __name__ == '__main__':
    unittest.main()
