"""``python -m protospec``: the same as the ``protospec`` console command."""

from protospec.explorer.cli.main import entry

if __name__ == "__main__":
    entry()
