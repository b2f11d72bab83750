"""TWIN_MQTT_* TLS settings, and no secret in the errors they raise."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from twin.connect import mqtt_endpoint
from twin.mqtt import MqttError, tls_context
from twin.settings import Settings, TlsOptions, parse_mqtt_url, redact_url


@pytest.mark.parametrize("url", ["mqtt://user:s3cret-pw@host:notaport", "http://user:s3cret-pw@host:1883",
                                 "mqtt://user:s3cret-pw@", "user:s3cret-pw@host"])
def test_a_malformed_mqtt_url_with_credentials_is_not_echoed(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_mqtt_url(url)
    assert "s3cret-pw" not in str(caught.value)
    with pytest.raises(ValidationError) as invalid:
        Settings(mqtt_url=url)
    assert "s3cret-pw" not in str(invalid.value)


def test_redact_url_keeps_host_and_port() -> None:
    assert redact_url("mqtts://u:p@broker:8883/x") == "mqtts://***@broker:8883/x"
    assert redact_url("mqtt://broker:1883") == "mqtt://broker:1883"


def test_tls_settings_reach_the_endpoint(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    endpoint = mqtt_endpoint(Settings(mqtt_url="mqtts://broker", mqtt_ca_file=ca))
    assert (endpoint.host, endpoint.port, endpoint.tls) == ("broker", 8883, True)
    assert endpoint.tls_options == TlsOptions(ca_file=ca)
    assert mqtt_endpoint(Settings(mqtt_url="mqtt://broker")).tls_options is None


def test_tls_settings_with_a_clear_text_url_are_refused(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    with pytest.raises(ValidationError, match="mqtts://"):
        Settings(mqtt_url="mqtt://broker", mqtt_ca_file=ca)
    with pytest.raises(ValidationError, match="mqtts://"):
        Settings(mqtt_tls_insecure=True)  # the default URL is mqtt://


def test_a_certificate_needs_its_key_and_files_must_exist(tmp_path: Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    with pytest.raises(ValidationError, match="go together"):
        Settings(mqtt_url="mqtts://broker", mqtt_cert_file=cert)
    with pytest.raises(ValidationError, match="no such file"):
        Settings(mqtt_url="mqtts://broker", mqtt_ca_file=tmp_path / "missing.pem")


def test_verification_is_on_by_default_and_insecure_only_skips_the_host_name() -> None:
    import ssl
    strict = tls_context(TlsOptions())
    assert strict.verify_mode is ssl.CERT_REQUIRED and strict.check_hostname
    loose = tls_context(TlsOptions(insecure=True))
    assert loose.verify_mode is ssl.CERT_REQUIRED and not loose.check_hostname


def test_an_unreadable_key_names_the_file_not_its_content(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("not a certificate")
    key.write_text("PRIVATE-KEY-MATERIAL")
    with pytest.raises(MqttError) as caught:
        tls_context(TlsOptions(cert_file=cert, key_file=key))
    assert str(cert) in str(caught.value) and "PRIVATE-KEY-MATERIAL" not in str(caught.value)
