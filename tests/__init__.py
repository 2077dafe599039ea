"""The test suite (a package, so its helpers import as tests.* before any installed `tests`)."""
