"""The pure core: values in, values out; no I/O, no clock, no logging (a lint rule keeps it so)."""
