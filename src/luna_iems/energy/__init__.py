"""Energy primitives below every domain: the local calendar (BDEW day types) and the sun (clear sky)."""
