"""The Typer command tree: parse arguments, call the packages below, render with rich."""
