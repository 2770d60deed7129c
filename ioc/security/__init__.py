"""API keys and roles, and the audit log of every change."""
