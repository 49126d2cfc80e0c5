"""Pipeline steps for the console command; importing a module registers its steps."""

from . import core, synthetic  # noqa: F401
