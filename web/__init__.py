"""The web front end: the configuration page and the ISAPI-compatible HTTP API.

Served by `web.server.WebFrontEnd` from the appliance's main process; it
reaches the firmware only through `firmware.service`, like the console.
"""
