from devices.simulator.cli import app

app(prog_name="python -m devices.simulator")
