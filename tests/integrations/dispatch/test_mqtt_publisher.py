"""The MQTT `MessagePublisher` against a real broker (Debian's mosquitto on a free port)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from luna_iems.adapters.mqtt_publisher import MqttPublisher, parse_mqtt_url
from luna_iems.bootstrap import build_publisher_factory
from tests.conftest import make_settings
from tests.integrations.dispatch.mqtt_probe import subscriber
from tests.support.mosquitto import free_port, mosquitto


def test_url_parsing_and_a_clear_error() -> None:
    address = parse_mqtt_url("mqtt://user%40x:p%3Ass@broker:1884")
    assert (address.host, address.port, address.username, address.password) == (
        "broker",
        1884,
        "user@x",
        "p:ss",
    )
    assert parse_mqtt_url("tcp://broker").port == 1883
    with pytest.raises(ValueError, match="mqtt://user:password@host:1883"):
        parse_mqtt_url("http://broker:1883")


def test_publishes_retained_messages_and_birth_from_many_threads(tmp_path: Path) -> None:
    with mosquitto(tmp_path) as broker, subscriber(broker.port, "luna/#") as probe:
        publisher = MqttPublisher(url=broker.url, client_id="t-pub")
        try:
            assert publisher.wait_connected(10)
            birth = probe.wait_for(lambda ms: [m for m in ms if m.topic == "luna/status"])
            assert birth[0].payload == b"online"

            def send(n: int) -> None:
                for i in range(25):
                    publisher.publish(f"luna/test/{n}", f"{n}:{i}".encode(), qos=1)

            threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            got = probe.wait_for(
                lambda ms: len([m for m in ms if m.topic.startswith("luna/test/")]) == 100 and ms
            )
            for n in range(4):  # per topic, in the order each thread sent
                assert [m.payload for m in got if m.topic == f"luna/test/{n}"] == [
                    f"{n}:{i}".encode() for i in range(25)
                ]
            publisher.publish("luna/setpoints/x", b'{"power_kw": 1}', retain=True)
            health = publisher.health()
            assert health.ok and health.info["published"] == 101 and health.info["failed"] == 0
        finally:
            publisher.close()
        assert probe.wait_for(
            lambda ms: [m for m in ms if m.topic == "luna/status"][-1].payload == b"offline"
        )

        # A late subscriber gets the retained state: the last setpoint and "offline".
        with subscriber(broker.port, "luna/setpoints/#", "luna/status", client_id="late") as late:
            retained = late.wait_for(lambda ms: len(ms) == 2 and ms)
            assert {(m.topic, m.payload, m.retain) for m in retained} == {
                ("luna/setpoints/x", b'{"power_kw": 1}', True),
                ("luna/status", b"offline", True),
            }


def test_last_will_marks_luna_offline_when_the_connection_dies(tmp_path: Path) -> None:
    with mosquitto(tmp_path) as broker, subscriber(broker.port, "luna/status") as probe:
        publisher = MqttPublisher(url=broker.url, client_id="t-will", keepalive_s=1)
        assert publisher.wait_connected(10)
        probe.wait_for(lambda ms: ms and ms[-1].payload == b"online")
        # Kill the socket without a DISCONNECT packet: the broker must publish the will.
        publisher._client.socket().close()  # type: ignore[union-attr]
        probe.wait_for(lambda ms: ms[-1].payload == b"offline")
        # paho reconnects on its own and publishes the birth again.
        probe.wait_for(lambda ms: ms[-1].payload == b"online", timeout=20)
        publisher.close()


def test_unreachable_broker_raises_connection_error(tmp_path: Path) -> None:
    publisher = MqttPublisher(url=f"mqtt://127.0.0.1:{free_port()}", connect_timeout_s=0.5)
    try:
        with pytest.raises(ConnectionError, match="not connected"):
            publisher.publish("luna/x", b"1")
        health = publisher.health()
        assert not health.ok and not health.required and health.info["failed"] == 1
    finally:
        publisher.close()


def test_a_stopped_broker_fails_publishes_until_it_is_back(tmp_path: Path) -> None:
    with mosquitto(tmp_path) as broker:
        publisher = MqttPublisher(url=broker.url, publish_timeout_s=1, reconnect_max_s=1)
        try:
            publisher.publish("luna/x", b"1")
            broker.stop()
            with pytest.raises(ConnectionError):
                _publish_until_it_fails(publisher)
            broker.start()
            assert publisher.wait_connected(15)
            publisher.publish("luna/x", b"3")
        finally:
            publisher.close()


def _publish_until_it_fails(publisher: MqttPublisher) -> None:
    for _ in range(50):  # the network loop notices the closed socket within a few attempts
        publisher.publish("luna/x", b"2")


def test_bootstrap_builds_the_publisher_only_with_mqtt_url(tmp_path: Path) -> None:
    assert build_publisher_factory(make_settings(tmp_path)) is None
    factory = build_publisher_factory(make_settings(tmp_path, mqtt_url=f"mqtt://127.0.0.1:{free_port()}"))
    assert factory is not None
    publisher = factory()
    try:
        assert publisher.health().name == "mqtt_publisher"
    finally:
        getattr(publisher, "close")()  # noqa: B009 - close is not part of the Protocol
