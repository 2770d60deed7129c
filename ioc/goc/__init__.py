"""The connector to the national Government Operations Center (GOC): the indicator
report, HMAC signing, the outbox target that pushes, and a reference receiver."""
