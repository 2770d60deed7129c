from ioc.cli import app

app()
