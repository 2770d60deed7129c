# One image for every IOC service: the API, ingest, the alert engine, the simulator and
# the one-shot broker account setup. docker-compose.yml picks the command.
#
#   docker build -t ioc:0.1.0 .
#   docker run --rm ioc:0.1.0 ioc --version
#
# The image installs the same wheel that tests/deploy/test_wheel.py builds and runs from
# a fresh virtual environment, so what runs here is what the tests ran: the package and
# its data (metric catalog, default rules, templates, static files), nothing from the
# checkout. Base images are pinned to an exact version; bump them deliberately.

FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY ioc ./ioc
COPY ingest ./ingest
COPY devices ./devices
COPY dashboards ./dashboards
RUN pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv /opt/ioc \
 && /opt/ioc/bin/pip install /dist/ioc-*.whl

FROM python:3.11.11-slim-bookworm
# Non-root: the services need no privileges, only the network.
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin ioc
COPY --from=build /opt/ioc /opt/ioc
WORKDIR /app
# Broker account setup reads the project's own dynamic-security code (ioc.broker_admin).
COPY deploy/mosquitto/docker/accounts.py /app/deploy/mosquitto/docker/accounts.py
ENV PATH=/opt/ioc/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER ioc
EXPOSE 8000
CMD ["ioc", "api", "--host", "0.0.0.0", "--port", "8000"]
