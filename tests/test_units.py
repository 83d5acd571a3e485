"""Sizes in messages: exact bytes, with a readable figure beside them."""

from __future__ import annotations

import pytest

from dlpsim.units import describe_size, format_size


@pytest.mark.parametrize(("size", "text"), [
    (100, "100 B"),
    (1500, "1500 B"),  # under a megabyte, inexact: the bytes say it best
    (128 * 1024, "131072 B (128 KB)"),
    (8 * 1024**3, "8589934592 B (8 GB)"),
    # 13,447,175 KB exactly: thousands of KB read no better than bytes, so an approximate GB
    (13_447_175 * 1024, "13769907200 B (about 12.8 GB)"),
    (1024**2 + 1, "1048577 B (about 1 MB)"),
])
def test_describe_size(size, text):
    assert describe_size(size) == text


def test_format_size_stays_exact():
    assert format_size(13_447_175 * 1024) == "13447175 KB"
    assert format_size(3 * 1024**4) == "3 TB"
