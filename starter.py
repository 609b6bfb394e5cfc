"""Baton's command line, run from a checkout: ``python starter.py COMMAND``
(``python starter.py --help`` lists them). Installed, the same is ``baton COMMAND``.
The commands are in baton/cli.py."""

from baton.cli import entry

if __name__ == "__main__":
    entry()
