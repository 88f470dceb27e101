"""Benchmarks of the opsim sandbox (`python -m bench.run`, `make bench`).

Not tests: nothing here is collected by pytest, and no figure here fails a build.
"""
