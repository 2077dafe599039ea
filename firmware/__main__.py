"""`python -m firmware` is the same as `nvr`."""
import sys

from firmware.cli import main

if __name__ == "__main__":  # not when a worker process imports it (firmware.workers)
    sys.exit(main())
