"""Diagnostics: what a finished search's trials say about the space (the edge test, boundary flags, importance)."""
