"""The terminal client and its display."""
