"""The device's drawing limits, defined once: the analysis sizes its arrays from
them, and every check of a drawn area (configuration file, console, web) uses them."""

MAX_AREAS = 8     # detection areas per channel
MIN_POINTS = 3    # end-points per area...
MAX_POINTS = 10   # ...at most
