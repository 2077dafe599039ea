"""The `nvr` command: the composition root, the one place that knows every layer.

It parses the command line, boots the firmware and hands it the front ends
(the console menu, the web server), which reach the firmware only through
`firmware.service`. Each subcommand lives in `nvr.commands`.
"""
