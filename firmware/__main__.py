"""`python -m firmware` is the same as `nvr`."""
import sys

from firmware.cli import main

sys.exit(main())
