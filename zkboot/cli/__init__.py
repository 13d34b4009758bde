"""The front ends: they parse arguments and hand over; the work is elsewhere."""
