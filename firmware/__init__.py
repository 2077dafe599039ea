"""The appliance firmware: configuration, channels, statistics, reports, and the service front ends use."""

__version__ = "0.2.0"
RELEASE_DATE = "2026-12-06"   # reported by ISAPI deviceInfo as the firmware's build date
