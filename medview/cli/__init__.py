"""The ``medview`` command: one module per verb, discovered by :mod:`medview.cli.main`."""
