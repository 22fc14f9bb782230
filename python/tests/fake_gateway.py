"""A scripted stand-in for the decision service, to test the client's edges offline."""
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


# The client logs each gateway failure; the tests assert them instead.
logging.getLogger('x402_api').addHandler(logging.NullHandler())


class FakeGateway:
    """Answers each path with ``answers[path]``: a dict (JSON 200), or ``(status, bytes)``,
    or ``'slow'``. Records ``calls``: ``(path, json, headers)``."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                text = self.rfile.read(int(self.headers.get('content-length') or 0))
                gateway.calls.append((self.path, json.loads(text), {k.lower(): v for k, v in self.headers.items()}))
                answer = gateway.answers.get(self.path, (404, b'{"error":"not_found"}'))
                if answer == 'slow':
                    time.sleep(1.5)
                    answer = {}
                status, body = (200, json.dumps(answer).encode()) if isinstance(answer, dict) else answer
                self.send_response(status)
                self.send_header('content-type', 'application/json')
                self.send_header('content-length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d' % self.server.server_port
        threading.Thread(target=self.server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True).start()

    def paths(self):
        return [path for path, _, _ in self.calls]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def closed_port_url():
    """A URL where nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return 'http://127.0.0.1:%d' % sock.getsockname()[1]


PROCEED = {'action': 'proceed', 'ticket': 't_1', 'headers': {'x-402x-consumer': '0xabc'}, 'caller': {'kind': 'payer'}}
SEND = {'action': 'send', 'charged': True, 'headers': {'payment-response': 'eyJ'}}
CHALLENGE = {
    'action': 'respond',
    'status': 402,
    'headers': {'payment-required': 'eyJ', 'content-type': 'application/json', 'content-length': '99'},
    'body': '{"error":"payment_required"}',
}
