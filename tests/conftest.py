"""Suite-wide test configuration.

Hypothesis runs derandomized (a fixed seed derived from each test), so the suite
is deterministic: the same code gives the same verdict on every run and in CI.
Run ``pytest --hypothesis-profile=explore`` to search with fresh random seeds and
more examples.
"""

from hypothesis import settings

settings.register_profile("default", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=500)
settings.load_profile("default")
