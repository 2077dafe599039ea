"""The console's entry point: serve one port for the appliance's whole life.

`serve(port, service, stop)` runs in the appliance's console thread: it
waits for an operator, runs a session (activation or login, then the main
menu), and after logout, idle logout or a hang-up starts over, until `stop`
is set. A fault in one session is logged and the console comes back, so no
input can take the console away from the device.
"""
from __future__ import annotations

import logging
import threading

from firmware.auth import LoginGuard
from firmware.service import ApplianceService
from hal.console import ConsolePort, Hangup
from menu.auth_screens import activate, login
from menu.forms import Console
from menu.lineio import IdleLogout, LineEditor
from menu.screens import MAIN_MENU

log = logging.getLogger(__name__)


def serve(
    port: ConsolePort,
    service: ApplianceService,
    stop: threading.Event,
    *,
    guard: LoginGuard | None = None,
) -> None:
    """Serve console sessions on `port` until `stop` is set.

    guard: the login lock-out policy, shared by all sessions on this port
    (default: 5 failures lock for 60 s); tests pass a shorter one.
    """
    guard = guard or LoginGuard()
    while not stop.is_set():
        try:
            if not port.wait_peer(0.5):
                continue
            log.info("console %s: operator attached", port.description)
            run_session(port, service, stop, guard)
        except Hangup as e:
            log.info("console %s: hung up (%s)", port.description, e)
        except Exception:
            if stop.is_set():
                break  # the port was closed under us by shutdown
            log.exception("console %s: session failed; restarting it", port.description)
            try:
                port.write(b"\r\nConsole fault: restarting the session.\r\n")
            except Exception:
                pass  # the port itself may be what failed
            stop.wait(1.0)  # a persistent fault must not spin
        else:
            port.hang_up()


def run_session(port: ConsolePort, service: ApplianceService, stop: threading.Event, guard: LoginGuard) -> None:
    """One operator session: activation or login, the main menu, logout."""
    settings = service.console_settings()
    editor = LineEditor(port, idle_timeout=settings.idle_logout, stop=stop)
    console = Console(editor, service, settings.color)
    store = service.accounts()
    console.say("")
    console.say(f"{service.appliance_name()} console")
    try:
        if not store.is_set() and not activate(console, store):
            console.say("Not activated.")
            return
        if not login(console, store, guard):
            return
        console.run_menu(MAIN_MENU)
        console.say("Logged out.")
        log.info("console %s: logged out", port.description)
    except IdleLogout:
        console.say("")
        console.say(f"Idle for {settings.idle_logout:.0f} s: logged out.")
        log.info("console %s: idle logout", port.description)
