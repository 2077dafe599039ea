"""The console's line editor: bytes from a raw port in, edited lines out, echo by hand.

A raw serial line gives us every byte and echoes none, so this is the whole
terminal discipline the operator sees:

- printable text is echoed (or not, for passwords) and kept, up to MAX_LINE;
- backspace (0x08) and delete (0x7f) erase the last character (``\\b \\b``);
- CR, LF or CRLF ends a line (the LF after a CR is swallowed, even when it
  arrives in a later read);
- Ctrl-C (0x03) cancels the current input: `Cancelled`;
- other control bytes, escape sequences (arrow keys) and invalid UTF-8 are
  dropped, so nothing the line carries can crash a screen.

Bytes after a line end are kept for the next prompt (type-ahead, pasted
scripts). No input for `idle_timeout` seconds raises `IdleLogout`.
"""
from __future__ import annotations

import codecs
import threading
import time
from collections import deque

from hal.console import ConsolePort, Hangup

MAX_LINE = 200  # longer than any answer a menu asks for; stops a flood growing memory
POLL = 0.2      # seconds between checks of the stop flag and the idle clock


class Cancelled(Exception):
    """The operator pressed Ctrl-C at a prompt."""


class IdleLogout(Exception):
    """No input for the idle-logout time."""


class LineEditor:
    def __init__(
        self,
        port: ConsolePort,
        *,
        idle_timeout: float = 300.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.port = port
        self.idle_timeout = idle_timeout
        self.stop = stop or threading.Event()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")
        self._chars: deque[str] = deque()
        self._after_cr = False
        self._escape = 0  # 0 text, 1 after ESC, 2 inside ESC [ ..., 3 after ESC O
        self._last_input = time.monotonic()

    # ------------------------------------------------------------------ output

    def write(self, text: str) -> None:
        """Send `text`; "\\n" becomes CRLF, as a raw terminal needs."""
        self.port.write(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8"))

    # ------------------------------------------------------------------ input

    def read_line(self, prompt: str, *, echo: bool = True) -> str:
        """Show `prompt`, return the edited line without its end.

        Raises Cancelled (Ctrl-C), IdleLogout, or hal.console.Hangup.
        """
        self.write(prompt)
        line: list[str] = []
        while True:
            ch = self._next_char()
            if ch in "\r\n":
                self.write("\n")
                return "".join(line)
            if ch == "\x03":
                self.write("^C\n")
                raise Cancelled()
            if ch in "\x08\x7f":
                if line:
                    line.pop()
                    if echo:
                        self.write("\b \b")
                continue
            if len(line) < MAX_LINE:
                line.append(ch)
                if echo:
                    self.write(ch)

    def _next_char(self) -> str:
        """The next character that matters to the editor (text, CR/LF, BS/DEL, Ctrl-C)."""
        while True:
            while self._chars:
                ch = self._filter(self._chars.popleft())
                if ch is not None:
                    return ch
            self._fill()

    def _filter(self, ch: str) -> str | None:
        if self._escape:
            if ch >= " " or ch == "\x1b":
                return self._in_escape(ch)
            self._escape = 0  # a control byte cuts a sequence short and counts itself (CR, Ctrl-C)
        after_cr, self._after_cr = self._after_cr, ch == "\r"
        if ch == "\n" and after_cr:
            return None  # the LF of a CRLF
        if ch == "\x1b":
            self._escape = 1
            return None
        if ch in "\r\n\x03\x08\x7f":
            return ch
        code = ord(ch)
        if code < 0x20 or 0x80 <= code < 0xA0:
            return None  # other C0 and C1 controls
        return ch

    def _in_escape(self, ch: str) -> None:
        code = ord(ch)
        if self._escape == 1:
            self._escape = {"[": 2, "O": 3}.get(ch, 0)
        elif self._escape == 2:
            if 0x40 <= code <= 0x7E:
                self._escape = 0  # a CSI ends at its final byte
        else:
            self._escape = 0
        return None

    def _fill(self) -> None:
        while True:
            if self.stop.is_set():
                raise Hangup("the appliance is stopping")
            idle = time.monotonic() - self._last_input
            if idle >= self.idle_timeout:
                raise IdleLogout()
            data = self.port.read(min(POLL, self.idle_timeout - idle))
            if data:
                self._last_input = time.monotonic()
                self._chars.extend(self._decoder.decode(data))
                return
