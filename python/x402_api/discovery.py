"""Where the 402x gateway is: ``X402_GATEWAY_URL``, else a running ``402x dev``."""
from __future__ import annotations

import json
import os
from typing import Mapping

from .errors import GatewayNotConfigured


def state_dir(env: Mapping[str, str] | None = None, cwd: str | None = None) -> str:
    """The folder ``402x dev`` writes ``dev.json`` to: ``X402_STATE_DIR``, else ``./.402x``."""
    env = os.environ if env is None else env
    return env.get('X402_STATE_DIR') or os.path.join(cwd or os.getcwd(), '.402x')


def find_gateway_url(env: Mapping[str, str] | None = None, cwd: str | None = None) -> str:
    """The gateway's base URL, without a trailing slash.

    ``X402_GATEWAY_URL`` wins. Else ``dev.json`` in :func:`state_dir` gives ``gatewayUrl`` (or
    ``apiUrl``: ``402x dev`` serves the decision service on its demo API) while the process
    ``pid`` that wrote it is alive. The file is read on each call, so a restarted ``402x dev``
    is found at its new port.

    Raises:
        GatewayNotConfigured: neither names a gateway.

    Example:
        >>> find_gateway_url({'X402_GATEWAY_URL': 'http://127.0.0.1:4023/'})
        'http://127.0.0.1:4023'
    """
    env = os.environ if env is None else env
    given = (env.get('X402_GATEWAY_URL') or '').strip()
    if given:
        return given.rstrip('/')
    path = os.path.join(state_dir(env, cwd), 'dev.json')
    try:
        with open(path, encoding='utf-8') as file:
            state = json.load(file)
    except FileNotFoundError:
        raise GatewayNotConfigured(_missing(f'there is no {path}')) from None
    except (OSError, ValueError) as error:
        raise GatewayNotConfigured(_missing(f'{path} cannot be read ({error})')) from error
    state = state if isinstance(state, dict) else {}
    url = state.get('gatewayUrl') or state.get('apiUrl')
    pid = state.get('pid')
    if not isinstance(url, str) or not isinstance(pid, int):
        raise GatewayNotConfigured(_missing(f'{path} names no gatewayUrl and pid'))
    if not _alive(pid):
        raise GatewayNotConfigured(_missing(f'{path} was written by process {pid}, which is not running'))
    return url.rstrip('/')


def _missing(why: str) -> str:
    return (
        f'no 402x gateway found ({why}): set X402_GATEWAY_URL to the URL `402x gateway` prints '
        '(e.g. http://127.0.0.1:4023), or run `402x dev` in this folder'
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # it exists, under another user
    except OSError:
        return False
    return True
