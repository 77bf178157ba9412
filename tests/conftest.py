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


def pytest_sessionfinish(session, exitstatus):
    """Exit 0 with a clear line when a selection collects no test (pytest's exit code 5).

    ``pytest -k something`` or a path with no tests is not a failure of the suite; the
    line says so, so CI logs never read as a silent pass.
    """
    if exitstatus == 5:
        print("\nno tests were collected for this selection (pytest exit code 5, reported as 0)")
        session.exitstatus = 0
