"""Devices, buffers, program caches, and the engine that runs schedules."""
