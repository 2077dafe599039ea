"""Video content analysis: pure computation for the heat map.

Arrays in, arrays and events out: no I/O, no configuration files, no threads.
Hot loops are Numba kernels (`njit(cache=True, nogil=True)`) over arrays
preallocated once per channel by `vca.analyzer.ChannelAnalyzer`.
"""
