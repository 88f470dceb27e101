"""Operator profiles: each composes capabilities (folder layout, protocols, codes) from data."""
