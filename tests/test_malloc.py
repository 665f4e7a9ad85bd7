"""The import-time heap pad (tinygrad_conv._malloc): applied on glibc Linux, opt-out by env."""

import platform
import sys

import pytest

from tinygrad_conv import _malloc


def test_pad_applies_exactly_on_glibc_linux():
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert _malloc.pad_heap(16) is glibc


@pytest.mark.parametrize("value", ["0", "-5"])
def test_env_zero_opts_out(monkeypatch, value):
    monkeypatch.setenv("TINYGRAD_CONV_MALLOC_PAD_MB", value)
    assert _malloc.pad_heap() is False


def test_bad_env_value_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TINYGRAD_CONV_MALLOC_PAD_MB", "lots")
    with pytest.raises(ValueError, match="TINYGRAD_CONV_MALLOC_PAD_MB.*'lots'"):
        _malloc.pad_heap()
