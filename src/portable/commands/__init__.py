"""CLI command groups contributed by subsystems; ``portable.cli`` registers each one.

Each module exposes ``COMMANDS``: a list of click commands.
"""

MODULES = ("harness", "recipes", "serving")
