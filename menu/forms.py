"""Menus as data and the prompts every screen shares.

A `Menu` is a title, optional header lines and a list of `Item`s, each a
label and a small handler. `Console.run_menu` prints it in the scriptable
form installers' expect scripts rely on::

    == Title ==
    1. Label
    0. Back
    Select>

and dispatches the answer; handlers return `LEAVE` to close their menu.
Every prompt is one line ending in ``> ``; an empty answer keeps the value
shown in brackets; a refused answer says why and asks again.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from hal.console import Hangup
from menu.lineio import Cancelled, IdleLogout, LineEditor

log = logging.getLogger(__name__)

LEAVE = object()  # a handler's return value: close the menu it was chosen from

Text = str | Callable[[Any], str]


def whole_number(text: str) -> int | None:
    """An ASCII whole number, or None (str.isdigit also accepts "²", which int() refuses)."""
    return int(text) if re.fullmatch(r"-?[0-9]{1,9}", text) else None


def _text(t: Text, state: Any) -> str:
    return t(state) if callable(t) else t


@dataclass(frozen=True)
class Item:
    label: Text
    run: Callable[["Console", Any], Any]


@dataclass(frozen=True)
class Menu:
    title: Text
    items: Sequence[Item] | Callable[[Any], Sequence[Item]]
    back: str = "Back"
    header: Callable[["Console", Any], None] | None = None
    # Asked before leaving; False keeps the operator in the menu (unsaved changes).
    may_leave: Callable[["Console", Any], bool] | None = None


class Console:
    """One logged-in operator: the line editor, the service, and display settings."""

    def __init__(self, editor: LineEditor, service: Any, color: bool) -> None:
        self.io = editor
        self.service = service
        self.color = color and "NO_COLOR" not in os.environ

    # ------------------------------------------------------------------ output

    def say(self, text: str = "") -> None:
        self.io.write(text + "\n")

    # ------------------------------------------------------------------ menus

    def run_menu(self, menu: Menu, state: Any = None) -> None:
        while True:
            items = menu.items(state) if callable(menu.items) else menu.items
            self.say(f"== {_text(menu.title, state)} ==")
            if menu.header:
                menu.header(self, state)
            for n, item in enumerate(items, 1):
                self.say(f"{n}. {_text(item.label, state)}")
            self.say(f"0. {menu.back}")
            try:
                answer = self.io.read_line("Select> ").strip()
            except Cancelled:
                continue
            if answer == "0":
                if menu.may_leave is None or menu.may_leave(self, state):
                    return
                continue
            n = whole_number(answer)
            if n is None or not 1 <= n <= len(items):
                if answer:
                    self.say(f"No item {answer!r}: choose 0 to {len(items)}.")
                continue
            item = items[n - 1]
            try:
                if item.run(self, state) is LEAVE:
                    return
            except Cancelled:
                self.say("Cancelled.")
            except (IdleLogout, Hangup):
                raise
            except Exception as e:  # a firmware fault must not take the console down
                log.exception("console: %s failed", _text(item.label, state))
                self.say(f"Internal error ({type(e).__name__}): {str(e)[:60]}; see the appliance log.")

    def choose(self, title: str, options: Sequence[tuple[int, str]], back: str = "Back") -> int | None:
        """A pick list numbered by the options' own numbers (channel ids); None for Back."""
        numbers = {n for n, _ in options}
        while True:
            self.say(f"== {title} ==")
            for n, label in options:
                self.say(f"{n}. {label}")
            self.say(f"0. {back}")
            try:
                answer = self.io.read_line("Select> ").strip()
            except Cancelled:
                return None
            if answer == "0":
                return None
            if whole_number(answer) in numbers:
                return whole_number(answer)
            if answer:
                self.say(f"No item {answer!r}: choose one of {', '.join(str(n) for n, _ in options)} or 0.")

    # ------------------------------------------------------------------ prompts

    def ask(self, prompt: str, *, echo: bool = True) -> str:
        return self.io.read_line(prompt, echo=echo)

    def ask_int(self, label: str, lo: int, hi: int, current: int) -> int:
        while True:
            answer = self.ask(f"{label} [{lo}-{hi}] ({current})> ").strip()
            if not answer:
                return current
            n = whole_number(answer)
            if n is not None and lo <= n <= hi:
                return n
            self.say(f"Refused: {label} must be a whole number from {lo} to {hi}.")

    def ask_on_off(self, label: str, current: bool) -> bool:
        shown = "on" if current else "off"
        while True:
            answer = self.ask(f"{label} [on/off] ({shown})> ").strip().lower()
            if not answer:
                return current
            if answer in ("on", "y", "yes", "1", "enable", "enabled"):
                return True
            if answer in ("off", "n", "no", "0", "disable", "disabled"):
                return False
            self.say("Refused: answer on or off.")

    def confirm(self, question: str) -> bool:
        """A [y/N] question; anything but yes (and Ctrl-C) is no."""
        try:
            return self.ask(f"{question} [y/N]> ").strip().lower() in ("y", "yes")
        except Cancelled:
            return False

    def ask_date(self, label: str, current: dt.date) -> dt.date:
        while True:
            answer = self.ask(f"{label} [YYYY-MM-DD] ({current.isoformat()})> ").strip()
            if not answer:
                return current
            try:
                return dt.date.fromisoformat(answer)
            except ValueError:
                self.say(f"Refused: {answer!r} is not a date like {current.isoformat()}.")
