"""Foundations every layer may use: errors for people, and units (the only place units are parsed)."""
