"""One console session over a socketpair, as an operator's terminal would drive it."""
from __future__ import annotations

import socket
import threading

from hal.console import SocketPort
from menu.session import serve

PASSWORD = "Heat-Map-2026"
LOGIN = f"admin\r{PASSWORD}\r".encode()


def session(service, data: bytes, timeout: float = 30.0) -> str:
    """Feed `data` to a console session (`menu.session.serve`), then hang up; the transcript."""
    mine, theirs = socket.socketpair()
    stop = threading.Event()
    t = threading.Thread(target=serve, args=(SocketPort(mine), service, stop), daemon=True)
    t.start()
    theirs.sendall(data)
    theirs.shutdown(socket.SHUT_WR)
    out = bytearray()
    theirs.settimeout(timeout)
    try:
        while chunk := theirs.recv(65536):
            out += chunk
    finally:
        stop.set()
        t.join(5)
        theirs.close()
    assert not t.is_alive(), "serve() must end when stop is set"
    return out.decode("utf-8", "replace")
