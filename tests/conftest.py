"""Shared pytest configuration."""

import os

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes tens of seconds (deselect with -m 'not slow')")


@pytest.fixture(autouse=True, scope="session")
def _result_cache_of_the_tests(tmp_path_factory):
    """Every command the tests run (in this process or a child) keeps its results in a folder of its
    own, never in the user's cache; a test that counts cache hits gives --cache its own folder."""
    previous = os.environ.get("DLPSIM_CACHE_DIR")
    os.environ["DLPSIM_CACHE_DIR"] = str(tmp_path_factory.mktemp("dlpsim-cache"))
    yield
    if previous is None:
        os.environ.pop("DLPSIM_CACHE_DIR", None)
    else:
        os.environ["DLPSIM_CACHE_DIR"] = previous
