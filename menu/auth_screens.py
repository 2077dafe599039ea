"""Activation (first boot) and login, as on a real recorder's console.

A device without a password asks to be activated: the admin password is
typed twice and must pass the strength rules. Afterwards every session
starts with ``login:`` / ``password:`` (the password is not echoed); five
wrong answers, here, on the web page or from an API client, lock the
account for a minute, across reconnections and restarts (the service
keeps the count).
"""
from __future__ import annotations

import logging

from firmware.service import MAX_FAILURES, USER, ApplianceService, LoginOutcome, ServiceError
from menu.forms import Console
from menu.lineio import Cancelled

log = logging.getLogger(__name__)


def activate(console: Console, service: ApplianceService) -> bool:
    """First boot: set the admin password. True once it is stored."""
    console.say("This device is not activated. Set the admin password to activate it:")
    console.say("at least 8 characters with two kinds of: digits, lower case, upper case, symbols.")
    while True:
        try:
            first = console.ask("New admin password> ", echo=False)
            problem = service.password_problem(first)
            if problem:
                console.say(f"Refused: {problem}.")
                continue
            second = console.ask("Confirm password> ", echo=False)
        except Cancelled:
            return False
        if first != second:
            console.say("Refused: the two passwords differ; type them again.")
            continue
        try:
            service.activate(first)
        except ServiceError as e:
            console.say(f"Not activated: {e}")
            return False
        console.say(f"Device activated. Log in as {USER}.")
        log.info("console: device activated")
        return True


def login(console: Console, service: ApplianceService) -> bool:
    """Ask login and password until they match (True) or the operator gives up (Ctrl-C)."""
    while True:
        wait = service.locked_for()
        if wait > 0:
            console.say(f"Console locked after too many failed logins; try again in {wait:.0f} s.")
            # Wait out the lock-out but keep reading, so a hang-up or idle logout is still seen.
            try:
                console.ask("Press Enter to continue> ")
            except Cancelled:
                pass
            continue
        try:
            user = console.ask("login: ").strip()
            if not user:
                continue
            password = console.ask("password: ", echo=False)
        except Cancelled:
            continue
        try:
            result = service.login(user, password)
        except ServiceError as e:
            console.say(f"Login impossible: {e}")
            try:
                console.ask("Press Enter to retry> ")
            except Cancelled:
                pass
            continue
        if result.outcome is LoginOutcome.OK:
            log.info("console: %s logged in", user)
            return True
        if result.outcome is LoginOutcome.LOCKED:
            continue  # locked while typing (another way in failed); try after the wait
        if result.outcome is LoginOutcome.NOT_ACTIVATED:
            return False  # the password file was removed under us: start the session over
        log.warning("console: failed login for %r", user[:32])
        if result.locked_for > 0:
            console.say(f"Login incorrect. Console locked for {result.locked_for:.0f} s "
                        f"after {MAX_FAILURES} failed logins.")
        else:
            console.say("Login incorrect.")
