"""The ``picloud`` command (click): jobs, files and setup from the shell."""

from picloud.cli.main import main

__all__ = ["main"]
