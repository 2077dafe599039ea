"""The configuration page in real headless Chromium (Debian's chromium, driven by Playwright).

The how-to's steps as an installer does them: log in, Configuration > Heat
Map Configuration, draw an area by left clicks on the live view and a right
click, move a slider, Save; VCA Search > Heat Map, Counting, Export. A
screenshot of each page is kept in `test-artifacts/` at the repository root.

Without /usr/bin/chromium the tests skip with that reason; CI installs it and
sets NVR_REQUIRE_BROWSER=1, which turns the skip into a failure.
"""
from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import openpyxl
import pytest
import yaml

from tests.webapp import DAY, PASSWORD, ROOT, running

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"

if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
    if os.environ.get("NVR_REQUIRE_BROWSER"):
        raise RuntimeError(f"{CHROMIUM} is missing but NVR_REQUIRE_BROWSER is set: install chromium")
    pytest.skip(f"no {CHROMIUM} (apt-get install chromium chromium-driver)", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def nvr(tmp_path_factory):
    with running(tmp_path_factory.mktemp("browser")) as a:
        yield a


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser, nvr):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "401" not in m.text else None)
    yield page
    context.close()
    assert not errors, errors  # no script error, no CSP violation


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page, nvr) -> None:
    page.goto(nvr.url + "/")
    expect(page.locator("#view-login")).to_be_visible()
    shot(page, "login")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#view-config")).to_be_visible()


def test_the_seed_configuration_steps_in_a_browser(page, nvr):
    log_in(page, nvr)
    view = page.locator("#view-config")
    view.get_by_label("Camera").select_option("4")          # step 2: select a camera
    expect(view).to_have_attribute("aria-busy", "false")     # its settings have arrived
    view.get_by_label("Enable Heat Map").check()              # step 3
    live = page.locator("#live-canvas")
    expect(page.locator("#live-img")).to_have_attribute("src", re.compile(r"^blob:"))  # the live view
    box = live.bounding_box()
    for x, y in [(0.2, 0.5), (0.8, 0.5), (0.8, 0.9), (0.2, 0.9)]:   # step 4: left clicks...
        page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
    page.mouse.click(box["x"] + 0.5 * box["width"], box["y"] + 0.7 * box["height"], button="right")  # ...right click
    expect(page.locator("#area-message")).to_have_text("Area 1 added (not saved yet).")
    slider = view.get_by_label("Detection Sensitivity", exact=True)   # step 5: a slider
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    expect(view.get_by_label("Detection Sensitivity value")).to_have_value("60")
    view.get_by_label("Minimum Target Size value").fill("35")
    view.get_by_label("Minimum Target Size value").press("Tab")
    shot(page, "heat-map-configuration")
    view.get_by_role("button", name="Save").click()           # step 6
    expect(page.locator("#cfg-message")).to_contain_text("Saved.")

    saved = yaml.safe_load(nvr.config_path.read_text())["channels"][3]["heat_map"]
    assert saved["enabled"] is True
    assert saved["detection_sensitivity"] == 60 and saved["minimum_target_size"] == 35
    assert saved["regions"] == [[[0.2, 0.5], [0.8, 0.5], [0.8, 0.9], [0.2, 0.9]]]
    applied = nvr.appliance.channels[4].config.heat_map
    assert applied.enabled and applied.detection_sensitivity == 60
    assert applied.regions == (((0.2, 0.5), (0.8, 0.5), (0.8, 0.9), (0.2, 0.9)),)


def test_a_crossing_area_is_refused_with_the_reason(page, nvr):
    log_in(page, nvr)
    page.locator("#cfg-camera").select_option("1")
    box = page.locator("#live-canvas").bounding_box()
    for x, y in [(0.1, 0.1), (0.9, 0.9), (0.9, 0.1), (0.1, 0.9)]:  # a bow tie
        page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
    page.locator("#live-canvas").click(button="right")
    expect(page.locator("#area-message")).to_contain_text("Area refused: edges")
    expect(page.locator("#area-message")).to_contain_text("cross")


def test_an_area_drawn_with_the_keyboard(page, nvr):
    log_in(page, nvr)
    page.locator("#cfg-camera").select_option("1")
    page.get_by_role("button", name="Delete All Areas").click()
    canvas = page.locator("#live-canvas")
    canvas.focus()
    for moves in (["ArrowLeft"] * 3, ["ArrowRight"] * 6, ["ArrowDown"] * 4):
        for key in moves:
            page.keyboard.press(f"Shift+{key}")
        page.keyboard.press("Enter")
    page.keyboard.press("f")
    expect(page.locator("#area-message")).to_have_text("Area 1 added (not saved yet).")
    expect(page.locator("#cfg-unsaved")).to_be_visible()


def test_counting_and_export_in_a_browser(page, nvr):
    log_in(page, nvr)
    page.get_by_role("link", name="VCA Search > Heat Map").click()
    view = page.locator("#view-search")
    view.get_by_label("Camera").select_option("1")
    view.get_by_label("Report Type").select_option(label="Daily Report")
    view.get_by_label("Statistics Time").fill(DAY)
    view.get_by_label("Statistical Model").select_option(label="People (visits)")
    with page.expect_response(lambda r: "/heatMap/picture" in r.url) as picture:
        view.get_by_role("button", name="Counting").click()
    assert picture.value.status == 200 and picture.value.headers["content-type"] == "image/png"
    expect(page.locator("#s-totals")).to_contain_text("Corridor:")
    assert page.locator("#s-chart rect.bar").count() >= 1          # the hour analysed so far
    assert page.locator("#s-chart rect.nodata").count() >= 20       # the hours nobody watched
    shot(page, "vca-search-heat-map")
    with page.expect_download() as download:
        view.get_by_role("button", name="Export", exact=True).click()
    data = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename == "heatmap_ch01_daily_2026-11-24_people.xlsx"
    assert openpyxl.load_workbook(io.BytesIO(data)).sheetnames


def test_status_shows_every_channel(page, nvr):
    log_in(page, nvr)
    page.get_by_role("link", name="Status").click()
    rows = page.locator("#status-rows tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("Corridor")
    expect(rows.nth(0)).to_contain_text("running")
    # The input rate is current (measured every 2 s), whatever the status line's interval.
    fps = rows.nth(0).locator("td").nth(4)
    expect(fps).not_to_have_text("0.0", timeout=10_000)
    assert float(fps.text_content()) > 1.0
    expect(page.locator("#status-storage")).to_have_text("Statistics store: ok")
    shot(page, "status")


def test_the_page_is_locked_down(page, nvr):
    import requests

    r = requests.get(nvr.url + "/")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert "<script>" not in r.text and " on" not in r.text.split("<body>")[1].split("onfig")[0]
    for path in ["/static/../firmware/auth.py", "/static/%2e%2e/firmware/auth.py", "/static/..%2fsetup.cfg",
                 "/static//etc/passwd"]:
        leak = requests.get(nvr.url + path)
        assert leak.status_code in (401, 403, 404) and "scrypt" not in leak.text and "root:" not in leak.text
    login = requests.post(nvr.url + "/api/login", json={"user": "admin", "password": PASSWORD})
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    no_csrf = requests.put(nvr.url + "/api/channels/1/heatmap", cookies=login.cookies, json={})
    assert no_csrf.status_code == 403 and "X-CSRF-Token" in no_csrf.json()["error"]
