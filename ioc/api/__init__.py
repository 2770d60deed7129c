"""The operations center API (FastAPI): ``create_app(settings)`` builds it."""
