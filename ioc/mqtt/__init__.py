"""The MQTT consumer both ingest and the alert engine receive through.

:mod:`ioc.mqtt.types` says what a consumer is (:class:`~ioc.mqtt.types.Consumer`) and
what it hands over (:class:`~ioc.mqtt.types.Delivery`); :mod:`ioc.mqtt.paho` is the one
module that knows the client library; :mod:`ioc.mqtt.memory` is an in-process consumer
for tests (feed messages in, observe acknowledgements). Swapping the client library
means writing another adapter beside ``paho.py``; nothing above this package changes.
"""
