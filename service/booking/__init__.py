"""The booking flows: create, cancel, reschedule, and the outcomes the relay applies."""
