"""Unit tests of the pure policy core, `service/resilience/`: no clock, no sockets, no sleeps."""
