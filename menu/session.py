"""The console front end: serve the console ports for the appliance's whole life.

`ConsoleFrontEnd` is what the command that boots the appliance hands it:
at the end of boot it opens the ports (this terminal, a new pty, a TCP port
on loopback) and serves each from a thread. `serve(port, service, stop)`
waits for an operator, runs a session (activation or login, then the main
menu), and after logout, idle logout or a hang-up starts over, until `stop`
is set. A fault in one session is logged and the console comes back, so no
input can take the console away from the device.
"""
from __future__ import annotations

import logging
import threading

from firmware.service import ApplianceService, FrontEndError
from hal.console import ConsolePort, Hangup, open_port
from menu.auth_screens import activate, login
from menu.forms import Console
from menu.lineio import IdleLogout, LineEditor
from menu.screens import MAIN_MENU

log = logging.getLogger(__name__)


class ConsoleFrontEnd:
    """The serial console on `kind` ("stdio", "pty" or "none") and, optionally, on TCP
    `tcp_port` of 127.0.0.1."""

    def __init__(self, kind: str = "none", tcp_port: int | None = None) -> None:
        self.kind = kind
        self.tcp_port = tcp_port
        self._stop = threading.Event()
        self._ports: list[ConsolePort] = []

    def start(self, service: ApplianceService) -> list[str]:
        opening = [(f"the {self.kind} port", self.kind, None)] if self.kind != "none" else []
        if self.tcp_port is not None:
            opening.append((f"TCP port {self.tcp_port} of 127.0.0.1", "tcp", self.tcp_port))
        for what, kind, tcp_port in opening:
            try:
                self._ports.append(open_port(kind, tcp_port=tcp_port))
            except OSError as e:
                self.close()
                raise FrontEndError(f"console: cannot open {what}: {e.strerror or e}; "
                                    "choose another appliance.console.tcp_port") from None
        for port in self._ports:
            threading.Thread(target=serve, args=(port, service, self._stop),
                             name=f"console-{port.description}", daemon=True).start()
        return [f"console: {port.description}" for port in self._ports]

    def close(self) -> None:
        self._stop.set()
        for port in self._ports:
            port.close()


def serve(port: ConsolePort, service: ApplianceService, stop: threading.Event) -> None:
    """Serve console sessions on `port` until `stop` is set."""
    while not stop.is_set():
        try:
            if not port.wait_peer(0.5):
                continue
            log.info("console %s: operator attached", port.description)
            run_session(port, service, stop)
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


def run_session(port: ConsolePort, service: ApplianceService, stop: threading.Event) -> None:
    """One operator session: activation or login, the main menu, logout."""
    settings = service.console_settings()
    editor = LineEditor(port, idle_timeout=settings.idle_logout, stop=stop)
    console = Console(editor, service, settings.color)
    console.say("")
    console.say(f"{service.appliance_name()} console")
    try:
        if not service.activated() and not activate(console, service):
            console.say("Not activated.")
            return
        if not login(console, service):
            return
        console.run_menu(MAIN_MENU)
        console.say("Logged out.")
        log.info("console %s: logged out", port.description)
    except IdleLogout:
        console.say("")
        console.say(f"Idle for {settings.idle_logout:.0f} s: logged out.")
        log.info("console %s: idle logout", port.description)
