"""The catalogue of sample scenes: plain descriptions of what each shipped clip shows.

A scene is data only: the room (wall, floor tiles, furniture), the people
(each a Walker: look, size, speed and a route of footprint waypoints with
stops), the suggested detection area and any lighting events. Everything in
a clip, its pixels and its ground truth, follows from its Scene alone
(data.render draws it, data/make_samples.py writes the files), so a scene
is reproduced exactly from its description and seeds.

Frame: WIDTH x HEIGHT at FPS. Scale: about 50 px per metre at mid-floor, so
1.2-1.5 m/s walking is 60-75 px/s; targets grow towards the bottom of the
frame (perspective, data.render.scale_at). Every walker enters and leaves
at a frame edge (the first and last waypoints are off-screen).

To add a scene: write a function returning a Scene (use `palette(floor)`
for clothing that contrasts with the floor as intended and `across(...)`
for edge-to-edge routes), add it to SCENES, then run
`data/make_samples.py NAME` (and `--substream NAME`) and add the clip to
data/samples/README.md. tests/test_samples.py checks every catalogued
scene's truth against its shipped file.
"""
from __future__ import annotations

from dataclasses import dataclass

FPS = 25
WIDTH = 640
HEIGHT = 360


# --------------------------------------------------------------------------
# What a scene is made of
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Look:
    """A target's clothing: luma of head, shirt and trousers, shirt colour (U, V)."""

    head: float
    shirt: float
    trousers: float
    shirt_uv: tuple[float, float] = (128.0, 128.0)
    kind: str = "dark"  # dark | bright | low-contrast: how it differs from the floor


@dataclass(frozen=True)
class Walker:
    """One scripted target.

    route: footprint waypoints (x, y, stop_seconds) in pixels; the walker
           waits stop_seconds on arrival at a waypoint. The first and last
           points must be outside the frame so targets enter and leave.
    """

    id: int
    start: float  # seconds into the clip when the walker sets off
    speed: float  # px/s along the route
    look: Look
    route: tuple[tuple[float, float, float], ...]
    size: tuple[int, int] = (32, 86)  # (w, h) at scale 1.0
    seed: int = 0
    sway: float = 0.0  # px: while stopped, the footprint drifts side to side this far (browsing)


@dataclass(frozen=True)
class Furniture:
    """A static shape of the room, drawn into the background only (never in front of a walker)."""

    kind: str  # shelf | counter | plant | door | window | poster | bench
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)
    luma: float
    front: bool = False  # drawn over the walkers (a display counter hiding legs): occlusion


@dataclass(frozen=True)
class Scene:
    """Everything a clip is made from; the truth is a function of this alone."""

    name: str
    description: str
    seconds: float
    seed: int
    wall_bottom: int  # first floor row
    wall_luma: float
    floor_luma: float
    tile: tuple[int, int]  # tile size (w, h) at the bottom row
    furniture: tuple[Furniture, ...]
    walkers: tuple[Walker, ...]
    region: tuple[tuple[float, float], ...]
    brightness_steps: tuple[tuple[float, float], ...] = ()  # (seconds, delta)
    exposure_ramps: tuple[tuple[float, float, float], ...] = ()  # (from s, to s, delta): auto-iris
    floor_uv: tuple[float, float] = (124.0, 133.0)
    wall_uv: tuple[float, float] = (126.0, 130.0)

    @property
    def frames(self) -> int:
        return int(round(self.seconds * FPS))


# --------------------------------------------------------------------------
# The shipped scenes
# --------------------------------------------------------------------------

def palette(floor: float) -> dict[str, Look]:
    """Clothing palettes relative to the floor so 'low-contrast' means ~20-30 levels."""
    return {
        "dark": Look(head=70, shirt=floor - 65, trousers=floor - 75, shirt_uv=(140, 120), kind="dark"),
        "navy": Look(head=75, shirt=floor - 55, trousers=floor - 70, shirt_uv=(150, 118), kind="dark"),
        "bright": Look(head=150, shirt=min(floor + 75, 215), trousers=floor + 40, shirt_uv=(118, 150), kind="bright"),
        "white": Look(head=140, shirt=min(floor + 85, 220), trousers=floor - 50, shirt_uv=(126, 128), kind="bright"),
        "low_up": Look(head=floor + 20, shirt=floor + 25, trousers=floor + 22, shirt_uv=(122, 134), kind="low-contrast"),
        "low_down": Look(head=floor - 22, shirt=floor - 25, trousers=floor - 28, shirt_uv=(132, 126), kind="low-contrast"),
    }


def across(y0: float, y1: float | None = None, left_to_right: bool = True, stop_at: float | None = None,
            stop_s: float = 0.0) -> tuple[tuple[float, float, float], ...]:
    """A route across the frame from edge to edge, optionally stopping at x=stop_at."""
    y1 = y0 if y1 is None else y1
    xa, xb = (-30.0, WIDTH + 30.0) if left_to_right else (WIDTH + 30.0, -30.0)
    if stop_at is None:
        return ((xa, y0, 0.0), (xb, y1, 0.0))
    u = (stop_at - xa) / (xb - xa)
    return ((xa, y0, 0.0), (stop_at, y0 + u * (y1 - y0), stop_s), (xb, y1, 0.0))


def _corridor() -> Scene:
    L = palette(115)
    walkers = (
        Walker(1, 1.0, 68, L["dark"], across(200), (32, 86), 1),
        Walker(2, 4.0, 72, L["bright"], across(290, left_to_right=False), (33, 88), 2),
        Walker(3, 10.0, 62, L["low_up"], across(250, stop_at=330, stop_s=15.0), (31, 84), 3),
        Walker(4, 16.0, 65, L["navy"], across(170, left_to_right=False), (32, 90), 4),
        Walker(5, 24.0, 70, L["white"], across(180, 320), (34, 88), 5),
        Walker(6, 33.0, 66, L["low_down"], across(230, left_to_right=False), (30, 82), 6),
        Walker(7, 45.0, 74, L["dark"], across(310), (33, 90), 7),
        Walker(8, 52.0, 60, L["bright"], across(200, 260, left_to_right=False), (31, 84), 8),
        Walker(9, 62.0, 70, L["navy"], across(240), (32, 86), 9),
    )
    return Scene(
        name="corridor",
        description="Office corridor seen from the end wall: nine people walk through, one "
                    "(id 3, low contrast) stops 15 s mid-corridor.",
        seconds=80.0, seed=11, wall_bottom=110, wall_luma=150, floor_luma=115, tile=(48, 26),
        furniture=(
            Furniture("door", (80, 22, 130, 110), 95),
            Furniture("door", (430, 22, 480, 110), 95),
            Furniture("poster", (240, 30, 330, 80), 140),
            Furniture("plant", (8, 60, 52, 126), 70),
            Furniture("plant", (590, 60, 634, 126), 70),
        ),
        walkers=walkers,
        region=((0.03, 0.40), (0.97, 0.40), (0.99, 0.98), (0.01, 0.98)),
    )


def _shop_floor() -> Scene:
    L = palette(125)
    walkers = (
        Walker(1, 1.0, 65, L["dark"], ((200, 480, 0), (200, 165, 65.0), (680, 250, 0)), (32, 88), 1),
        Walker(2, 3.0, 70, L["bright"], ((-30, 220, 0), (380, 160, 8.0), (680, 230, 0)), (33, 86), 2),
        Walker(3, 12.0, 62, L["low_up"], ((670, 200, 0), (470, 165, 20.0), (480, 480, 0)), (31, 84), 3),
        Walker(4, 25.0, 68, L["navy"], ((330, 480, 0), (300, 170, 5.0), (-30, 260, 0)), (32, 90), 4),
        Walker(5, 40.0, 72, L["white"], ((-30, 300, 0), (560, 170, 12.0), (670, 180, 0)), (34, 88), 5),
        Walker(6, 55.0, 62, L["low_down"], ((670, 280, 0), (130, 172, 15.0), (-30, 200, 0)), (30, 82), 6),
        Walker(7, 70.0, 66, L["dark"], ((420, 480, 0), (400, 168, 10.0), (670, 240, 0)), (33, 88), 7),
        Walker(8, 80.0, 64, L["bright"], across(250), (31, 86), 8),
    )
    return Scene(
        name="shop_floor",
        description="Shop floor facing the shelves: shoppers walk up to the shelf and stop "
                    "5-20 s; one (id 1) stands 65 s. Checkout counter bottom right.",
        seconds=100.0, seed=23, wall_bottom=120, wall_luma=135, floor_luma=125, tile=(56, 30),
        furniture=(
            Furniture("shelf", (30, 8, 210, 124), 105),
            Furniture("shelf", (230, 8, 410, 124), 105),
            Furniture("shelf", (430, 8, 600, 124), 105),
            Furniture("plant", (602, 70, 638, 132), 75),
            Furniture("counter", (520, 300, 640, 346), 90),
        ),
        walkers=walkers,
        region=((0.03, 0.40), (0.97, 0.40), (0.97, 0.80), (0.80, 0.80), (0.80, 0.98), (0.03, 0.98)),
        floor_uv=(120, 136),
    )


def _entrance() -> Scene:
    L = palette(120)
    walkers = (
        # Pairs: the second sets off a moment later, walks faster, draws level
        # with the first (their blobs merge for a few seconds) and passes ahead.
        Walker(1, 0.0, 55, L["dark"], across(220), (32, 86), 1),
        Walker(2, 1.6, 76, L["low_up"], across(262), (31, 88), 2),
        # Two people crossing head-on on nearly the same line.
        Walker(3, 10.0, 66, L["bright"], across(200), (33, 86), 3),
        Walker(4, 10.0, 64, L["navy"], across(212, left_to_right=False), (32, 88), 4),
        # A pair walking right to left, overtaking in the same way.
        Walker(5, 20.0, 56, L["white"], across(280, left_to_right=False), (33, 90), 5),
        Walker(6, 21.6, 76, L["dark"], across(316, left_to_right=False), (32, 90), 6),
        # Diagonal X crossing.
        Walker(7, 31.0, 70, L["low_down"], across(150, 330), (31, 84), 7),
        Walker(8, 31.0, 70, L["bright"], across(330, 150), (33, 88), 8),
        # A last pair, close together.
        Walker(9, 44.0, 58, L["navy"], across(180), (32, 86), 9),
        Walker(10, 45.5, 78, L["white"], across(214), (33, 86), 10),
    )
    return Scene(
        name="entrance",
        description="Entrance hall: in three pairs the second walker catches up with the first, "
                    "walks level with it and overtakes; two people cross head-on (ids 3, 4) and "
                    "two cross diagonally (ids 7, 8).",
        seconds=60.0, seed=37, wall_bottom=100, wall_luma=140, floor_luma=120, tile=(40, 40),
        furniture=(
            Furniture("window", (60, 12, 200, 88), 185),
            Furniture("door", (280, 10, 360, 100), 100),
            Furniture("window", (440, 12, 580, 88), 185),
            Furniture("bench", (250, 338, 390, 358), 80),
        ),
        walkers=walkers,
        region=((0.02, 0.36), (0.98, 0.36), (0.98, 0.92), (0.02, 0.92)),
        floor_uv=(126, 130),
    )


def _lights() -> Scene:
    L = palette(70)
    walkers = (
        Walker(1, 2.0, 66, Look(head=110, shirt=150, trousers=90, shirt_uv=(118, 150), kind="bright"),
               across(220), (32, 86), 1),
        Walker(2, 9.0, 70, Look(head=55, shirt=42, trousers=38, shirt_uv=(136, 122), kind="low-contrast"),
               across(280, left_to_right=False), (33, 88), 2),
        Walker(3, 24.0, 64, Look(head=100, shirt=120, trousers=40, shirt_uv=(122, 140), kind="bright"),
               across(260), (32, 90), 3),
        Walker(4, 36.0, 66, L["low_up"], across(190, left_to_right=False), (31, 84), 4),
        Walker(5, 44.0, 72, Look(head=120, shirt=170, trousers=110, shirt_uv=(128, 128), kind="bright"),
               across(300), (33, 88), 5),
        Walker(6, 48.0, 62, Look(head=45, shirt=30, trousers=25, shirt_uv=(140, 120), kind="dark"),
               across(240, left_to_right=False), (32, 86), 6),
    )
    return Scene(
        name="lights",
        description="Dim storeroom; the ceiling light is switched on at 30 s (+40 grey levels "
                    "in one frame). Three people walk before, one during (id 3), two after.",
        seconds=60.0, seed=41, wall_bottom=105, wall_luma=85, floor_luma=70, tile=(50, 28),
        furniture=(
            Furniture("window", (70, 14, 170, 80), 60),
            Furniture("door", (470, 18, 525, 105), 60),
            Furniture("shelf", (230, 10, 380, 108), 60),
        ),
        walkers=walkers,
        region=((0.03, 0.38), (0.97, 0.38), (0.97, 0.95), (0.03, 0.95)),
        brightness_steps=((30.0, 40),),
    )


SCENES: dict[str, Scene] = {s.name: s for s in (_corridor(), _shop_floor(), _entrance(), _lights())}


# --------------------------------------------------------------------------
# The counting scenes (data/samples/counting): the cases that break trackers,
# shipped at 320x180 to stay small (data/make_samples.py --counting)
# --------------------------------------------------------------------------

def _room(name: str, description: str, seconds: float, seed: int, walkers, furniture=(), **kw) -> Scene:
    """A plain shop room: shelves on the back wall, the floor as the area."""
    back = (Furniture("shelf", (40, 10, 230, 114), 105), Furniture("shelf", (410, 10, 600, 114), 105))
    return Scene(name=name, description=description, seconds=seconds, seed=seed, wall_bottom=118,
                 wall_luma=140, floor_luma=120, tile=(52, 28), furniture=back + tuple(furniture),
                 walkers=tuple(walkers), region=kw.pop("region", ((0.02, 0.38), (0.98, 0.38), (0.98, 0.97),
                                                                   (0.02, 0.97))), **kw)


def _browsing() -> Scene:
    L = palette(120)
    return _room(
        "browsing",
        "Two shoppers browse for 2 min and 1 min, drifting side to side; the first stands behind a "
        "display counter that hides its legs; a third walks through, passing in front of the second.",
        150.0, 51,
        (Walker(1, 1.0, 60, L["dark"], ((-30, 200, 0), (190, 200, 120.0), (-30, 215, 0)), (32, 86), 1, sway=6),
         Walker(2, 20.0, 64, L["bright"], ((670, 235, 0), (450, 235, 60.0), (670, 250, 0)), (33, 88), 2, sway=4),
         Walker(3, 44.0, 66, L["navy"], across(262, left_to_right=True), (32, 88), 3)),
        (Furniture("counter", (140, 168, 250, 206), 95, front=True),))


def _standing() -> Scene:
    L = palette(120)
    return _room(
        "standing",
        "Four shoppers stand dead still for 18, 30, 45 and 67 s, two of them low-contrast, one "
        "with its legs behind a display counter; they arrive and leave at different times.",
        90.0, 55,
        (Walker(1, 1.0, 62, L["low_up"], ((-30, 210, 0), (150, 210, 67.0), (-30, 225, 0)), (31, 84), 1),
         Walker(2, 6.0, 66, L["navy"], ((670, 250, 0), (470, 250, 45.0), (670, 265, 0)), (32, 88), 2),
         Walker(3, 20.0, 64, L["low_down"], ((320, 480, 0), (320, 300, 30.0), (670, 310, 0)), (30, 82), 3),
         Walker(4, 40.0, 66, L["white"], ((670, 195, 0), (400, 195, 18.0), (670, 200, 0)), (33, 86), 4)),
        (Furniture("counter", (360, 150, 450, 200), 95, front=True),))


def _crossing() -> Scene:
    L = palette(120)
    return _room(
        "crossing",
        "Two people cross, one passing behind the other; then a group of three walks in together "
        "and splits: one on, one down to the camera, one stops and turns back.",
        40.0, 53,
        (Walker(1, 1.0, 66, L["dark"], across(215), (32, 86), 1),
         Walker(2, 1.5, 68, L["bright"], across(265, left_to_right=False), (33, 88), 2),
         Walker(3, 14.0, 60, L["navy"], ((-30, 215, 0), (300, 215, 0), (670, 170, 0)), (32, 86), 3),
         Walker(4, 14.3, 60, L["white"], ((-60, 245, 0), (290, 245, 0), (330, 480, 0)), (33, 88), 4),
         Walker(5, 14.6, 60, L["low_down"], ((-60, 275, 0), (260, 275, 4.0), (-30, 300, 0)), (31, 86), 5)))


def _returning() -> Scene:
    L = palette(120)
    return _room(
        "returning",
        "The area is the left 60 % of the floor. One shopper walks out of it, waits 3 s outside and "
        "comes back (two visits); another steps out for half a second (one visit).",
        36.0, 57,
        (Walker(1, 1.0, 66, L["dark"], ((-30, 230, 0), (300, 230, 0), (460, 230, 3.0), (250, 250, 0),
                                        (-30, 250, 0)), (32, 86), 1),
         Walker(2, 17.0, 66, L["bright"], ((670, 290, 0), (300, 290, 0), (400, 290, 0), (250, 300, 0),
                                           (-30, 300, 0)), (33, 88), 2)),
        region=((0.02, 0.38), (0.60, 0.38), (0.60, 0.97), (0.02, 0.97)))


def _pace() -> Scene:
    L = palette(120)
    return _room(
        "pace",
        "A slow walker (0.3 m/s, 15 px/s) crosses the whole room while three fast ones "
        "(2.5 m/s, 125 px/s) cross it on other lines.",
        50.0, 59,
        (Walker(1, 1.0, 15, L["dark"], across(230), (32, 86), 1),
         Walker(2, 6.0, 125, L["bright"], across(300, left_to_right=False), (33, 88), 2),
         Walker(3, 18.0, 125, L["navy"], across(190, left_to_right=False), (32, 86), 3),
         Walker(4, 32.0, 125, L["white"], across(290, 270), (33, 88), 4)))


def _iris() -> Scene:
    L = palette(110)
    return _room(
        "iris",
        "The camera's auto-iris opens over 10 s (+35 grey levels, 12-22 s) while a shopper "
        "stands 25 s mid-floor; two walk through before and after.",
        40.0, 61,
        (Walker(1, 2.0, 66, L["bright"], across(200), (32, 86), 1),
         Walker(2, 6.0, 64, L["dark"], ((670, 240, 0), (330, 240, 25.0), (-30, 260, 0)), (32, 88), 2, sway=3),
         Walker(3, 30.0, 68, L["navy"], across(290, left_to_right=False), (33, 88), 3)),
        exposure_ramps=((12.0, 22.0, 35.0),))


COUNTING_SCENES: dict[str, Scene] = {s.name: s for s in (_browsing(), _standing(), _crossing(), _returning(), _pace(), _iris())}
# Also shipped as a 5 fps sub-stream (NAME-5fps.mp4), scored against the same truth.
COUNTING_5FPS = ("pace", "crossing")
