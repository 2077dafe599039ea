"""The menu tree: Main Menu > Configuration / VCA Search / Status.

Each item is a label and a small handler; the handlers for the seed's two
procedures live in `config_screens` and `search_screens`.
"""
from __future__ import annotations

from menu import render
from menu.config_screens import export_device, heat_map_configuration
from menu.forms import Console, Item, Menu
from menu.search_screens import heat_map_search


def _toggle_color(console: Console, _state=None) -> None:
    console.color = not console.color
    console.say(f"Console colour {'on' if console.color else 'off'}.")


def _status(console: Console, _state=None) -> None:
    console.run_menu(STATUS_MENU)


def _show_status(console: Console, _state=None) -> None:
    console.say(f"{console.service.appliance_name()}  {console.service.now():%Y-%m-%d %H:%M:%S}")
    for line in render.status_lines(console.service.channels()):
        console.say(line)
    for line in render.storage_lines(console.service.storage()):
        console.say(line)


STATUS_MENU = Menu(title="Status", header=_show_status, items=(Item("Refresh", lambda c, s: None),))

CONFIGURATION_MENU = Menu(
    title="Configuration",
    items=(
        Item("Heat Map Configuration", heat_map_configuration),
        Item("Console Colour (on/off)", _toggle_color),
        Item("Export Device", export_device),
    ),
)

VCA_SEARCH_MENU = Menu(title="VCA Search", items=(Item("Heat Map", heat_map_search),))

MAIN_MENU = Menu(
    title="Main Menu",
    items=(
        Item("Configuration", lambda c, s: c.run_menu(CONFIGURATION_MENU)),
        Item("VCA Search", lambda c, s: c.run_menu(VCA_SEARCH_MENU)),
        Item("Status", _status),
    ),
    back="Logout",
)
