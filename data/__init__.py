"""Shipped data (demo configuration, sample channels) and the generator of the sample channels."""
