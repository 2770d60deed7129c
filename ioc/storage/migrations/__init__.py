"""Schema migrations: one module each, ``mNNNN_name.py``; see :mod:`ioc.storage.migrate`."""
