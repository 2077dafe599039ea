"""The serial-console port: a byte stream to one operator at a time.

Three drivers share one small API (cf. pyserial's loopback "so you can run
the unit tests with it"):

- ``stdio``: the terminal (or pipe) the appliance runs in;
- ``pty``:   a pseudo-terminal the appliance creates; an operator attaches
  with ``screen``/``picocom``/``minicom`` to its path, may leave and come back;
- ``tcp``:   a listening socket on 127.0.0.1 only, one client at a time;

plus ``SocketPort`` over any connected socket (tests use a socketpair).

The API, for `menu.session`:

- ``wait_peer(timeout) -> bool``: someone is attached (TCP: accepts a client);
- ``read(timeout) -> bytes``: b"" on timeout; raises `Hangup` when the peer left;
- ``write(data)``: raises `Hangup` when the peer left;
- ``hang_up()``: drop the current peer (TCP closes the client; no-op elsewhere);
- ``description``: the boot line's text, e.g. ``pty /dev/pts/3``;
- ``close()``.

The port is raw: no echo, no line editing, no signals, so the menu's line
editor sees every byte and echoes what it accepts itself.
"""
from __future__ import annotations

import os
import select
import socket
import sys
import termios
import time
import tty


class Hangup(Exception):
    """The operator disconnected (pty closed, TCP client gone, end of input)."""


class ConsolePort:
    """Base of the drivers: subclasses implement `_fileno`, `_peer_fd` and the peer checks."""

    description = "console"

    def wait_peer(self, timeout: float) -> bool:
        raise NotImplementedError

    def read(self, timeout: float) -> bytes:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def hang_up(self) -> None:
        """Drop the current peer; drivers that cannot (stdio, pty) ignore it."""

    def close(self) -> None:
        raise NotImplementedError


def _write_all(fd: int, data: bytes, timeout: float = 5.0) -> None:
    """Write everything or raise Hangup; a peer that stops reading for `timeout` is gone."""
    view = memoryview(data)
    deadline = time.monotonic() + timeout
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            n = 0
        except OSError as e:
            raise Hangup(str(e)) from None
        view = view[n:]
        if view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Hangup("the terminal stopped reading")
            select.select([], [fd], [], min(left, 0.1))


class PtyPort(ConsolePort):
    """A pseudo-terminal: the appliance holds the master, the operator opens the slave path.

    The slave is put in raw mode once; Linux keeps those settings while the
    master lives, so every later ``screen`` or ``picocom`` starts raw too.
    With no slave open the master polls as POLLHUP and reads fail with EIO:
    that is how a hang-up and a reconnect are noticed.
    """

    def __init__(self) -> None:
        self._master, slave = os.openpty()
        self.path = os.ttyname(slave)
        tty.setraw(slave)
        # Not holding the slave open is what lets us see the operator leave.
        os.close(slave)
        os.set_blocking(self._master, False)
        self._poll = select.poll()
        self._poll.register(self._master, select.POLLIN)
        self._attached = False
        self.description = f"pty {self.path}"

    def _peer_present(self, timeout: float) -> bool:
        events = self._poll.poll(max(0, int(timeout * 1000)))
        return not any(ev & select.POLLHUP for _, ev in events)

    def wait_peer(self, timeout: float) -> bool:
        if self._peer_present(0):
            if not self._attached:
                # Drop anything queued while nobody was attached: a new
                # operator must not see the previous session's screen.
                termios.tcflush(self._master, termios.TCOFLUSH)
                self._attached = True
            return True
        self._attached = False
        time.sleep(min(timeout, 0.1))  # POLLHUP is level-triggered; do not spin
        return False

    def read(self, timeout: float) -> bytes:
        events = self._poll.poll(max(0, int(timeout * 1000)))
        if any(ev & select.POLLHUP for _, ev in events):
            self._attached = False
            raise Hangup("terminal closed")
        if not events:
            return b""
        try:
            return os.read(self._master, 4096)
        except BlockingIOError:
            return b""
        except OSError:
            self._attached = False
            raise Hangup("terminal closed") from None

    def write(self, data: bytes) -> None:
        if not self._peer_present(0):
            self._attached = False
            raise Hangup("terminal closed")
        _write_all(self._master, data)

    def close(self) -> None:
        if self._master >= 0:
            os.close(self._master)
            self._master = -1


class StdioPort(ConsolePort):
    """The appliance's own terminal or pipes. End of input is a permanent hang-up.

    On a terminal, echo and line editing are switched off (the menu echoes),
    but signals stay on: Ctrl-C in the terminal running `nvr run` stops the
    appliance, as for any foreground program. `close()` restores the terminal.
    """

    description = "stdio"

    def __init__(self, stdin=None, stdout=None) -> None:
        self._in = (stdin or sys.stdin).fileno()
        self._out = (stdout or sys.stdout).fileno()
        self._saved = None
        self._eof = False
        if os.isatty(self._in):
            self._saved = termios.tcgetattr(self._in)
            mode = termios.tcgetattr(self._in)
            mode[3] &= ~(termios.ICANON | termios.ECHO)
            mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
            termios.tcsetattr(self._in, termios.TCSAFLUSH, mode)

    def wait_peer(self, timeout: float) -> bool:
        if self._eof:
            time.sleep(min(timeout, 0.1))
            return False
        return True

    def read(self, timeout: float) -> bytes:
        if self._eof:
            raise Hangup("end of input")
        ready, _, _ = select.select([self._in], [], [], max(0.0, timeout))
        if not ready:
            return b""
        data = os.read(self._in, 4096)
        if not data:
            self._eof = True
            raise Hangup("end of input")
        return data

    def write(self, data: bytes) -> None:
        _write_all(self._out, data)

    def close(self) -> None:
        if self._saved is not None:
            termios.tcsetattr(self._in, termios.TCSADRAIN, self._saved)
            self._saved = None


class SocketPort(ConsolePort):
    """A console over one connected stream socket (a TCP client or a socketpair end)."""

    def __init__(self, sock: socket.socket, description: str = "socket") -> None:
        self._sock: socket.socket | None = sock
        self._sock.setblocking(False)
        self.description = description

    def wait_peer(self, timeout: float) -> bool:
        if self._sock is None:
            time.sleep(min(timeout, 0.1))
        return self._sock is not None

    def read(self, timeout: float) -> bytes:
        if self._sock is None:
            raise Hangup("disconnected")
        ready, _, _ = select.select([self._sock], [], [], max(0.0, timeout))
        if not ready:
            return b""
        try:
            data = self._sock.recv(4096)
        except BlockingIOError:
            return b""
        except OSError:
            data = b""
        if not data:
            self.hang_up()
            raise Hangup("disconnected")
        return data

    def write(self, data: bytes) -> None:
        if self._sock is None:
            raise Hangup("disconnected")
        _write_all(self._sock.fileno(), data)

    def hang_up(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        self.hang_up()


class TcpPort(ConsolePort):
    """A console on 127.0.0.1:PORT (never another interface); one client at a time.

    A second client while one is attached is told the console is busy and closed.
    """

    def __init__(self, port: int) -> None:
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self.description = f"tcp 127.0.0.1:{self.port}"
        self._client: SocketPort | None = None

    def _accept(self, timeout: float) -> socket.socket | None:
        ready, _, _ = select.select([self._listener], [], [], max(0.0, timeout))
        if not ready:
            return None
        try:
            sock, _ = self._listener.accept()
        except BlockingIOError:
            return None
        return sock

    def _refuse_extra(self) -> None:
        sock = self._accept(0)
        if sock is not None:
            try:
                sock.sendall(b"console busy: another operator is attached\r\n")
            finally:
                sock.close()

    def wait_peer(self, timeout: float) -> bool:
        if self._client is not None and self._client.wait_peer(0):
            self._refuse_extra()
            return True
        sock = self._accept(timeout)
        if sock is None:
            return False
        self._client = SocketPort(sock, self.description)
        return True

    def read(self, timeout: float) -> bytes:
        if self._client is None:
            raise Hangup("disconnected")
        self._refuse_extra()
        return self._client.read(timeout)

    def write(self, data: bytes) -> None:
        if self._client is None:
            raise Hangup("disconnected")
        self._client.write(data)

    def hang_up(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def close(self) -> None:
        self.hang_up()
        self._listener.close()


def open_port(kind: str, *, tcp_port: int | None = None) -> ConsolePort:
    """The console port named by `nvr run --console`: "stdio", "pty" or "tcp" (needs tcp_port)."""
    if kind == "stdio":
        return StdioPort()
    if kind == "pty":
        return PtyPort()
    if kind == "tcp":
        if tcp_port is None:
            raise ValueError("console tcp needs a port: set appliance.console.tcp_port in the config")
        return TcpPort(tcp_port)
    raise ValueError(f"console {kind!r} is unknown: use stdio, pty or tcp")
