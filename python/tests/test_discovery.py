"""Finding the gateway: X402_GATEWAY_URL, else a running `402x dev`'s dev.json."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

from x402_api import GatewayNotConfigured, find_gateway_url


def dead_pid():
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    return child.pid


class Discovery(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.env = {'X402_STATE_DIR': self.dir.name}

    def tearDown(self):
        self.dir.cleanup()

    def write(self, **state):
        with open(os.path.join(self.dir.name, 'dev.json'), 'w') as file:
            json.dump(state, file)

    def test_the_environment_wins(self):
        self.write(pid=os.getpid(), gatewayUrl='http://127.0.0.1:1')
        env = dict(self.env, X402_GATEWAY_URL='http://gw.internal:4023/')
        self.assertEqual(find_gateway_url(env), 'http://gw.internal:4023')

    def test_a_running_dev_names_its_gateway_or_its_api(self):
        self.write(pid=os.getpid(), gatewayUrl='http://127.0.0.1:4023', apiUrl='http://127.0.0.1:3000')
        self.assertEqual(find_gateway_url(self.env), 'http://127.0.0.1:4023')
        self.write(pid=os.getpid(), apiUrl='http://127.0.0.1:3000')
        self.assertEqual(find_gateway_url(self.env), 'http://127.0.0.1:3000')

    def test_none_is_an_error_that_says_what_to_do(self):
        for state in [None, {'pid': dead_pid(), 'apiUrl': 'http://127.0.0.1:3000'}]:
            if state:
                self.write(**state)
            with self.assertRaises(GatewayNotConfigured) as raised:
                find_gateway_url(self.env)
            self.assertIn('X402_GATEWAY_URL', str(raised.exception))
            self.assertIn('`402x dev`', str(raised.exception))

    def test_the_default_folder_is_dot_402x_of_the_working_directory(self):
        os.mkdir(os.path.join(self.dir.name, '.402x'))
        with open(os.path.join(self.dir.name, '.402x', 'dev.json'), 'w') as file:
            json.dump({'pid': os.getpid(), 'apiUrl': 'http://127.0.0.1:3001'}, file)
        self.assertEqual(find_gateway_url({}, cwd=self.dir.name), 'http://127.0.0.1:3001')


if __name__ == '__main__':
    unittest.main()
