"""What the tests and the benchmarks share: a private Mosquitto and PostgreSQL on free
ports, throwaway databases, an MQTT publisher, services run in-process, and the Grafana
query expander that runs dashboard SQL against the real database.

Not part of the product (the wheel leaves it out); importable from a checkout, by pytest
and by ``python -m bench.<name>`` run from the repository root, with no ``sys.path``
patching.
"""
