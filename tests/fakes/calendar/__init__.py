"""Tests of the fake calendar provider (fakes/calendar)."""
