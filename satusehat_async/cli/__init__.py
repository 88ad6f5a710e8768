"""The ``satusehat`` command line (the ``cli`` extra adds progress bars).

The entry point is :func:`satusehat_async.cli.main.main`; each subcommand lives in a
module of its own (``msi_cmd``, ``patient_cmd``, ``sandbox_cmd``, ``demo_cmd``...).
"""
