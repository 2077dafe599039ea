"""The console line editor on real byte streams: a pseudo-terminal and a socketpair."""
from __future__ import annotations

import os
import select
import socket
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.console import Hangup, PtyPort, SocketPort, TcpPort
from menu.lineio import MAX_LINE, Cancelled, IdleLogout, LineEditor


@pytest.fixture
def pty():
    """The appliance's pty port and the operator's end of it (as `screen` would open it)."""
    port = PtyPort()
    operator = os.open(port.path, os.O_RDWR | os.O_NOCTTY)
    assert port.wait_peer(1.0)
    yield port, operator
    try:
        os.close(operator)
    except OSError:
        pass
    port.close()


def drain(fd: int, settle: float = 0.1) -> bytes:
    out = b""
    while select.select([fd], [], [], settle)[0]:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        out += chunk
    return out


def test_backspace_and_delete_erase_and_echo_the_erasure(pty):
    port, op = pty
    ed = LineEditor(port)
    os.write(op, b"abx\x7fc\x08d\r")
    assert ed.read_line("Name> ") == "abd"
    assert drain(op) == b"Name> abx\b \bc\b \bd\r\n"


def test_backspace_on_empty_line_echoes_nothing(pty):
    port, op = pty
    ed = LineEditor(port)
    os.write(op, b"\x7f\x7f\x08ok\r")
    assert ed.read_line("> ") == "ok"
    assert drain(op) == b"> ok\r\n"


def test_cr_lf_and_crlf_each_end_one_line_even_split_across_reads(pty):
    port, op = pty
    ed = LineEditor(port)
    os.write(op, b"one\r\ntwo\nthree\r")
    assert [ed.read_line("> ") for _ in range(3)] == ["one", "two", "three"]
    # The LF of a CRLF arriving later must not read as an empty answer.
    os.write(op, b"\nfour\r")
    assert ed.read_line("> ") == "four"


def test_ctrl_c_cancels_the_current_input_only(pty):
    port, op = pty
    ed = LineEditor(port)
    os.write(op, b"half typed\x03")
    with pytest.raises(Cancelled):
        ed.read_line("> ")
    os.write(op, b"next\r")
    assert ed.read_line("> ") == "next"
    assert b"^C\r\n" in drain(op)


def test_control_bytes_escape_sequences_and_bad_utf8_are_dropped(pty):
    port, op = pty
    ed = LineEditor(port)
    # Arrow key, F1 (SS3), a bell, a NUL, a stray continuation byte, a broken 3-byte sequence.
    os.write(op, b"a\x1b[A\x1bOPb\x07\x00\x80c\xe2\x28d\xc3\xa9\r")
    assert ed.read_line("> ") == "abc(dé"


def test_password_is_not_echoed(pty):
    port, op = pty
    ed = LineEditor(port)
    os.write(op, b"Secret-2024\r")
    assert ed.read_line("password: ", echo=False) == "Secret-2024"
    assert drain(op) == b"password: \r\n"


def test_line_length_is_capped(pty):
    port, op = pty
    ed = LineEditor(port)
    os.write(op, b"x" * (MAX_LINE + 50) + b"\r")
    assert ed.read_line("> ") == "x" * MAX_LINE


def test_operator_hang_up_is_noticed_and_reconnect_seen(pty):
    port, op = pty
    ed = LineEditor(port)
    os.close(op)
    with pytest.raises(Hangup):
        ed.read_line("> ")
    assert not port.wait_peer(0.2)
    op2 = os.open(port.path, os.O_RDWR | os.O_NOCTTY)
    try:
        assert port.wait_peer(1.0)
        os.write(op2, b"back\r")
        assert LineEditor(port).read_line("> ") == "back"
    finally:
        os.close(op2)


def test_output_queued_while_nobody_was_attached_is_not_shown_to_the_next_operator():
    port = PtyPort()
    try:
        with pytest.raises(Hangup):
            port.write(b"secret screen\r\n")
        op = os.open(port.path, os.O_RDWR | os.O_NOCTTY)
        assert port.wait_peer(1.0)
        port.write(b"fresh")
        assert drain(op) == b"fresh"
        os.close(op)
    finally:
        port.close()


def test_idle_input_logs_out():
    a, b = socket.socketpair()
    ed = LineEditor(SocketPort(a), idle_timeout=0.3)
    t0 = time.monotonic()
    with pytest.raises(IdleLogout):
        ed.read_line("> ")
    assert 0.25 < time.monotonic() - t0 < 1.5
    b.close()


def test_stop_flag_ends_a_waiting_prompt():
    a, b = socket.socketpair()
    stop = threading.Event()
    ed = LineEditor(SocketPort(a), stop=stop)
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(Hangup):
        ed.read_line("> ")
    b.close()


def test_tcp_console_is_loopback_only_and_one_operator_at_a_time():
    port = TcpPort(0)
    try:
        assert port.description.startswith("tcp 127.0.0.1:")
        first = socket.create_connection(("127.0.0.1", port.port))
        assert port.wait_peer(1.0)
        second = socket.create_connection(("127.0.0.1", port.port))
        first.sendall(b"hello\r")
        assert LineEditor(port).read_line("> ") == "hello"
        second.settimeout(2.0)
        assert b"busy" in second.recv(100)
        first.close()
        with pytest.raises(Hangup):
            LineEditor(port).read_line("> ")
    finally:
        port.close()


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_the_editor(data):
    a, b = socket.socketpair()
    b.sendall(data + b"\r")
    b.shutdown(socket.SHUT_WR)  # end of input; b still takes the echo
    ed = LineEditor(SocketPort(a))
    lines = []
    while True:
        try:
            lines.append(ed.read_line("> ", echo=bool(len(lines) % 2)))
        except Cancelled:
            continue
        except Hangup:
            break
    assert lines, "the final CR always ends at least one line"
    b.close()
    for line in lines:
        assert len(line) <= MAX_LINE
        assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in line)


def test_stdio_console_on_a_terminal_edits_lines_itself_and_restores_the_terminal():
    import termios

    from hal.console import StdioPort

    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    with os.fdopen(slave, "rb", buffering=0, closefd=False) as fin, \
            os.fdopen(slave, "wb", buffering=0, closefd=False) as fout:
        port = StdioPort(fin, fout)
        lflag = termios.tcgetattr(slave)[3]
        assert not lflag & (termios.ICANON | termios.ECHO)
        assert lflag & termios.ISIG  # Ctrl-C in the appliance's own terminal still stops it
        os.write(master, b"ab\x7fc\r")
        assert LineEditor(port).read_line("> ") == "ac"
        # The terminal's own output processing may add a CR before the LF; harmless.
        assert drain(master).replace(b"\r\r\n", b"\r\n") == b"> ab\b \bc\r\n"
        port.close()
    assert termios.tcgetattr(slave) == before
    os.close(slave)
    os.close(master)


def test_stdio_console_end_of_input_is_a_lasting_hang_up():
    from hal.console import StdioPort

    r, w = os.pipe()
    os.write(w, b"last\n")
    os.close(w)
    with os.fdopen(r, "rb", buffering=0) as fin, open(os.devnull, "wb") as fout:
        port = StdioPort(fin, fout)
        ed = LineEditor(port)
        assert ed.read_line("> ") == "last"
        with pytest.raises(Hangup):
            ed.read_line("> ")
        assert not port.wait_peer(0.05)
