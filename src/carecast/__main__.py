"""``python -m carecast``: the same as the ``carecast`` command."""

from carecast.cli import main

if __name__ == "__main__":
    main()
