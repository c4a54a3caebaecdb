"""``python -m api.cli``: the ``gilmok`` command without its console script."""

from api.cli import main

if __name__ == "__main__":
    main()
