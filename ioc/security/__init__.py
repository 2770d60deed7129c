"""Who may do what: API keys, person accounts and their passwords, sign-in sessions,
roles and district scope, throttling, security events, and the audit log of every
change."""
