"""Rendering: tables and JSON on stdout, progress on stderr."""
