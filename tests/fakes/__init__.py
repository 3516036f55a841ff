"""Tests of the fakes: the calendar provider and the embedded Toxiproxy."""
