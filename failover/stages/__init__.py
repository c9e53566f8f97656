"""The round's stages: each takes values, does its I/O, and returns values and events to emit."""
