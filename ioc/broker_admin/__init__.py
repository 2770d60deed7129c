"""Broker accounts: devices' and services' credentials and topic ACLs, managed at run time
through Mosquitto's dynamic-security plugin (no broker restart)."""
