"""The benchmark engine behind `nvr bench` and `benchmarks/`.

Every figure that matters is measured next to a baseline in the same run
(shared machines drift): accuracy and per-frame cost against two OpenCV
pipelines (`baselines`, optional), full-pipeline throughput against
decode-only throughput (`throughput`), real-time overruns against the
machine's own overrun floor (`machine`). `scoring` is the CDnet F-measure,
`progress` the stderr progress line.
"""
