"""Tests of `service/`."""
