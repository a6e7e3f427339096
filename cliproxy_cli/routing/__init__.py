"""Routing: the model registry (built-ins, aliases, prefixes, exclusions), account selection,
cooldowns and retry policy. Pure: the clock and the state backend are passed in."""
