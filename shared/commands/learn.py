"""`signin-review learn`: see shared.commands.review."""

from shared.commands.review import add_learn_arguments as add_arguments
from shared.commands.review import run_learn as run

__all__ = ["add_arguments", "run"]
