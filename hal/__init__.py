"""Hardware abstraction layer: the appliance's capture inputs and console port.

`hal` knows devices and streams (PyAV decoding of files, looped recordings and
network URLs; the serial-console byte stream) and nothing of analytics.
Frames leave it as luma planes with timestamps (`hal.frame.Frame`).
"""
