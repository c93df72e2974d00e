"""Test data tooling: the delivery generator, the conformance check and scoring against the generator's truth.

Used by `regulake generate`, `make demo`, the tests and the benchmarks; production stages never import it.
"""
