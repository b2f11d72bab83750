"""Every wire decoder is total and bounded: any bytes give a value or a PayloadError, never another exception.

The decoders are the telemetry payload (`twin.readings.decode`), alert events
(`AlertEvent.decode`), the edge status as ingest writes it (`edge_status_line`) and as
the alert manager watches it (`ConnectivityWatcher.on_status`, which logs and ignores
what it cannot read). Whatever a decoder accepts must also be safe downstream: it
serializes to line protocol, encodes as UTF-8 and re-encodes as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.alerts.config import Connectivity
from analytics.alerts.sources import ConnectivityWatcher
from ingest.schema import edge_status_line, fast_telemetry_lines, telemetry_lines
from twin.errors import PayloadError
from twin.events import AlertEvent, EventState, Severity
from twin.mqtt import Message
from twin.readings import (
    ID_PATTERN,
    INT64_MAX,
    INT64_MIN,
    MAX_DETAILS_DEPTH,
    MAX_EDGE_SOURCES,
    MAX_PAYLOAD_BYTES,
    MAX_TEXT_BYTES,
    TS_MAX,
    TS_MIN,
    Quality,
    Reading,
    decode,
    encode,
    parse_ts,
)
from twin.topics import AssetPath

ASSET = AssetPath("s", "a", "l", "m")
T0 = datetime(2026, 11, 26, 8, tzinfo=UTC)
GOOD_TS = "2026-11-26T08:00:00.000000Z"
HOSTILE_TS = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1677-09-21T00:12:43Z",
              "2262-04-12T00:00:00Z", "2262-01-01T00:00:00Z", "1677-12-31T23:59:59.999999Z",
              "2026-11-26T08:00:00", "yesterday", "", "2026-11-26T08:00:00Z" + " " * 100, "\ud800"]
NOT_STRING_TS: list[Any] = [None, 0, 1.5, True, [], {}, 10**400]


def telemetry(*readings: dict[str, Any], **body: Any) -> bytes:
    doc: dict[str, Any] = {"v": 1, "asset": "s/a/l/m", "agent": "e1", "readings": list(readings)}
    doc.update(body)
    return json.dumps(doc).encode()


def item(**fields: Any) -> dict[str, Any]:
    return {"signal": "x", "ts": GOOD_TS, "value": 1.0, "quality": "good", **fields}


def event(**fields: Any) -> bytes:
    doc: dict[str, Any] = {"v": 1, "asset": "s/a/l/m", "source": "spc", "kind": "nelson_1", "severity": "warning",
                           "state": "firing", "key": "spc:x:nelson_1", "message": "x is out", "ts": GOOD_TS,
                           "details": {"value": 1.5, "points": [GOOD_TS]}}
    doc.update(fields)
    return json.dumps(doc).encode()


def status(**fields: Any) -> bytes:
    doc: dict[str, Any] = {"agent": "edge-1", "state": "online", "ts": GOOD_TS, "queue_depth": 3, "dropped": 0,
                           "published": 10, "sources": {"opc": True}}
    doc.update(fields)
    return json.dumps(doc).encode()


def edge_line(payload: bytes) -> str:
    return edge_status_line(Message("twin/v1/_sys/edge/edge-1/status", payload, 1, True, 1))


def watch(payload: bytes) -> list[AlertEvent]:
    return ConnectivityWatcher(Connectivity()).on_status("edge-1", payload, T0)


def decoded_telemetry(payload: bytes) -> list[Reading]:
    """decode, and prove what it accepted is safe for ingest (both serializers agree, UTF-8 encodes)."""
    readings = decode(payload)
    lines = fast_telemetry_lines(readings)
    assert lines == telemetry_lines(readings)
    assert all("\n" not in line for line in lines)
    "\n".join(lines).encode()
    return readings


def decoded_event(payload: bytes) -> AlertEvent:
    """AlertEvent.decode, and prove the event re-encodes (store, API) and round-trips."""
    ev = AlertEvent.decode(payload)
    json.dumps(ev.details, allow_nan=False).encode()
    assert AlertEvent.decode(ev.encode()) == ev
    return ev


def decoded_status(payload: bytes) -> str:
    line = edge_line(payload)
    line.encode()
    assert "\n" not in line
    return line


DECODERS: list[Callable[[bytes], object]] = [decoded_telemetry, decoded_event, decoded_status]
DECODER_IDS = ["telemetry", "alert-event", "edge-status"]


def only_payload_error(decoder: Callable[[bytes], object], payload: bytes) -> None:
    try:
        decoder(payload)
    except PayloadError as exc:
        assert str(exc)  # a reason, always
        assert len(str(exc)) < 2000  # and never the hostile value itself


# -- explicit hostile payloads ------------------------------------------------------------

DEEP = [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 100_000 + b"]" * 100_000]
JUNK = [b"", b"\x00", b"\xff\xfe", b"\x80\x81\x82", b"\xc0\xaf", b'"\xed\xa0\x80"', b"\xef\xbb\xbf",
        bytes(range(256)), b"\x1f\x8b\x08\x00", b"null", b"1", b"[]", b'"text"', b"{", b"{}", b"NaN",
        b'{"v": 1', b'{"v": 1}}']


@pytest.mark.parametrize("decoder", DECODERS, ids=DECODER_IDS)
@pytest.mark.parametrize("payload", DEEP + JUNK)
def test_nesting_and_binary_junk_are_payload_errors(decoder: Callable[[bytes], object], payload: bytes) -> None:
    with pytest.raises(PayloadError):
        decoder(payload)


@pytest.mark.parametrize("payload", DEEP + JUNK)
def test_connectivity_watcher_ignores_unreadable_statuses(payload: bytes) -> None:
    assert watch(payload) == []


def test_deep_nesting_inside_a_valid_envelope_is_a_payload_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(PayloadError, match="nested too deeply"):
        decode(b'{"v": 1, "asset": "s/a/l/m", "readings": [{"signal": "x", "ts": "' + GOOD_TS.encode()
               + b'", "value": ' + deep + b"}]}")


@pytest.mark.parametrize("decoder", DECODERS, ids=DECODER_IDS)
def test_a_payload_over_the_size_limit_is_refused_before_parsing(decoder: Callable[[bytes], object]) -> None:
    with pytest.raises(PayloadError, match="too large"):
        decoder(b" " * (MAX_PAYLOAD_BYTES + 1))


@pytest.mark.parametrize("decoder", DECODERS, ids=DECODER_IDS)
def test_invalid_utf8_bom_and_other_encodings_are_not_json(decoder: Callable[[bytes], object]) -> None:
    valid = {"telemetry": telemetry(item()), "alert-event": event(), "edge-status": status()}
    for payload in valid.values():
        with pytest.raises(PayloadError, match="byte order mark"):
            decoder(b"\xef\xbb\xbf" + payload)
        with pytest.raises(PayloadError, match="not valid UTF-8"):
            decoder(payload.decode().encode("utf-16"))
        with pytest.raises(PayloadError, match="not valid UTF-8"):
            decoder(payload.replace(b'"', b'"\xff', 1))


def test_encoded_lone_surrogates_are_not_utf8() -> None:
    # json.loads(bytes) decodes with surrogatepass and would accept this.
    with pytest.raises(PayloadError, match="not valid UTF-8"):
        decode(telemetry(item(value="x")).replace(b'"value": "x"', b'"value": "\xed\xa0\x80"'))


@pytest.mark.parametrize("where", ["value", "status", "signal"])
def test_escaped_lone_surrogates_are_refused(where: str) -> None:
    with pytest.raises(PayloadError):
        decoded_telemetry(telemetry(item(**{where: "ok\ud800"})))


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"])
def test_nan_and_infinity_are_refused(literal: bytes) -> None:
    payload = telemetry(item(value=0.5)).replace(b"0.5", literal)
    with pytest.raises(PayloadError, match=r"not a JSON number|must be finite"):
        decode(payload)
    with pytest.raises(PayloadError):
        edge_line(status(queue_depth=0.5).replace(b"0.5", literal))
    with pytest.raises(PayloadError):
        AlertEvent.decode(event(details={"x": 0.5}).replace(b"0.5", literal))


def test_huge_integers_are_refused_not_overflowed() -> None:
    big = 10**399  # 400 digits: float() of it raises OverflowError
    with pytest.raises(PayloadError, match="64-bit"):
        decode(telemetry(item(value=big)))
    with pytest.raises(PayloadError, match="64-bit"):
        decode(telemetry(item(value=INT64_MAX + 1)))
    with pytest.raises(PayloadError, match="64-bit"):
        decode(telemetry(item(value=INT64_MIN - 1)))
    assert decode(telemetry(item(value=INT64_MAX)))[0].value == INT64_MAX
    assert decode(telemetry(item(value=INT64_MIN)))[0].value == INT64_MIN
    for name in ("queue_depth", "dropped", "published"):
        with pytest.raises(PayloadError, match="64-bit"):
            edge_line(status(**{name: big}))
    with pytest.raises(PayloadError, match="64-bit"):
        AlertEvent.decode(event(details={"n": big}))
    assert watch(status(queue_depth=big))  # the watcher does not read counters: still a valid status


@pytest.mark.parametrize("decoder", DECODERS, ids=DECODER_IDS)
def test_numbers_beyond_the_int_conversion_limit_are_payload_errors(decoder: Callable[[bytes], object]) -> None:
    digits = b"1" * 5000  # json.loads raises a plain ValueError (sys.get_int_max_str_digits), not JSONDecodeError
    with pytest.raises(PayloadError, match="digits"):
        decoder(b'{"v": ' + digits + b"}")
    assert watch(b'{"state": "offline", "x": ' + digits + b"}") == []


@pytest.mark.parametrize("ts", HOSTILE_TS + NOT_STRING_TS)
def test_parse_ts_raises_value_error_only(ts: Any) -> None:
    with pytest.raises(ValueError):
        parse_ts(ts)


@pytest.mark.parametrize("ts", HOSTILE_TS + NOT_STRING_TS)
def test_hostile_timestamps_are_payload_errors_everywhere(ts: Any) -> None:
    with pytest.raises(PayloadError, match="ts"):
        decode(telemetry(item(ts=ts)))
    with pytest.raises(PayloadError, match=r"ts|missing"):
        AlertEvent.decode(event(ts=ts))
    if ts is not None:  # a status without a time is stamped on arrival
        with pytest.raises(PayloadError, match="ts"):
            edge_line(status(ts=ts))
    assert watch(status(ts=ts))  # the watcher does not read the time


def test_the_timestamp_range_is_influxdbs() -> None:
    assert parse_ts("1678-01-01T00:00:00Z") == TS_MIN
    assert parse_ts("2261-12-31T23:59:59.999999Z") == TS_MAX - timedelta(microseconds=1)
    assert parse_ts("2262-01-01T05:00:00+08:00") == TS_MAX - timedelta(hours=3)
    assert parse_ts("2026-11-26T16:00:00.123456789+08:00") == T0 + timedelta(microseconds=123456)
    # The edge ends of the range still serialize exactly.
    lo, hi = (Reading(ASSET, "x", t, 1.0) for t in (TS_MIN, TS_MAX - timedelta(microseconds=1)))
    assert fast_telemetry_lines([lo, hi]) == telemetry_lines([lo, hi])


@pytest.mark.parametrize("v", [True, 1.0, "1", 2, 0, None, [1], {"v": 1}, -1, "missing"])
def test_the_version_must_be_the_integer_1(v: Any) -> None:
    def without_v(payload: bytes) -> bytes:
        doc = json.loads(payload)
        del doc["v"]
        return json.dumps(doc).encode()
    telemetry_payload, event_payload = telemetry(item(), v=v), event(v=v)
    if v == "missing":
        telemetry_payload, event_payload = without_v(telemetry_payload), without_v(event_payload)
    with pytest.raises(PayloadError, match="unsupported payload version"):
        decode(telemetry_payload)
    with pytest.raises(PayloadError, match="unsupported alert event version"):
        AlertEvent.decode(event_payload)


BAD_NAMES = ["a b", "a,b", "a=b", 'a"b', "a\\b", "a\nb", "speed\n", "a\tb", "a/b", "+", "#", "_sys", "-x", "",
             "x" * 65, "ü", "a\x00b", "\ud800"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_signal_and_asset_names_must_be_plant_identifiers(name: str) -> None:
    with pytest.raises(PayloadError, match="signal"):
        decode(telemetry(item(signal=name)))
    if "/" not in name:
        with pytest.raises(PayloadError):
            decode(telemetry(item(), asset=f"s/{name}/l/m"))


def test_a_64_character_identifier_is_fine() -> None:
    [r] = decoded_telemetry(telemetry(item(signal="x" * 64), asset="S-1/a.b/l_1/" + "m" * 64))
    assert r.signal == "x" * 64 and r.asset.asset == "m" * 64


@pytest.mark.parametrize("text", ['say "hi"', "back\\slash\\", "a,b=c d", "tab\there", "ü € 漢字 🙂", "", "\x00"])
def test_line_protocol_metacharacters_in_values_are_escaped_alike(text: str) -> None:
    [r] = decoded_telemetry(telemetry(item(value=text, status=text or None)))
    assert r.value == text


@pytest.mark.parametrize("text", ["two\nlines", "cr\rhere", "\n"])
def test_newlines_in_field_values_are_refused(text: str) -> None:
    # Line protocol cannot carry a newline in a field value; Point writes it raw.
    with pytest.raises(PayloadError, match="one line"):
        decode(telemetry(item(value=text)))
    with pytest.raises(PayloadError, match="one line"):
        decode(telemetry(item(status=text)))
    with pytest.raises(PayloadError, match="one line"):
        edge_line(status(state=text))
    with pytest.raises(PayloadError, match="one line"):
        AlertEvent.decode(event(message=text))


def test_string_values_are_bounded_by_influxdbs_field_limit() -> None:
    assert decode(telemetry(item(value="x" * MAX_TEXT_BYTES)))[0].value == "x" * MAX_TEXT_BYTES
    for text in ("x" * (MAX_TEXT_BYTES + 1), "€" * (MAX_TEXT_BYTES // 3 + 1), "x" * 1_000_000):
        with pytest.raises(PayloadError, match="longer than"):
            decode(telemetry(item(value=text)))


@pytest.mark.parametrize("field", ["status", "agent"])
def test_labels_are_bounded(field: str) -> None:
    big = "x" * 1_000_000
    payload = telemetry(item(status=big)) if field == "status" else telemetry(item(), agent=big)
    with pytest.raises(PayloadError, match="longer than"):
        decode(payload)


@pytest.mark.parametrize("field", ["source", "kind", "key", "message"])
def test_alert_event_strings_are_bounded_and_must_be_strings(field: str) -> None:
    with pytest.raises(PayloadError, match="longer than"):
        AlertEvent.decode(event(**{field: "x" * 1_000_000}))
    with pytest.raises(PayloadError, match="must be a string"):
        AlertEvent.decode(event(**{field: 5}))
    with pytest.raises(PayloadError, match="missing"):
        AlertEvent.decode(json.dumps({k: v for k, v in json.loads(event()).items() if k != field}).encode())


@pytest.mark.parametrize(("field", "value"), [("severity", "fatal"), ("severity", 1), ("severity", ["warning"]),
                                              ("state", "open"), ("state", None), ("asset", "s/a/l"),
                                              ("asset", 5), ("asset", "s//l/m"), ("asset", "x" * 5000)])
def test_alert_event_enums_and_asset_are_checked(field: str, value: Any) -> None:
    with pytest.raises(PayloadError):
        AlertEvent.decode(event(**{field: value}))


@pytest.mark.parametrize("details", [[1], "x", 5, {"x": "y" * 70_000}, {"k" * 300: 1},
                                     {"x": {"x": {"x": {"x": {"x": {"x": {"x": {"x": {"x": 1}}}}}}}}},
                                     {"x": [[[[[[[[[1]]]]]]]]]}, {"x": "\ud800"}])
def test_alert_details_must_be_a_small_shallow_object(details: Any) -> None:
    with pytest.raises(PayloadError, match="details"):
        AlertEvent.decode(event(details=details))


def test_alert_details_may_be_missing_or_null_or_nested_a_little() -> None:
    assert decoded_event(event(details=None)).details == {}
    nested: dict[str, Any] = {"x": 1}
    for _ in range(MAX_DETAILS_DEPTH - 1):
        nested = {"x": nested}
    assert decoded_event(event(details=nested)).details == nested
    assert decoded_event(event(details={"note": "two\nlines"})).details == {"note": "two\nlines"}


def test_edge_alert_assets_are_accepted() -> None:
    ev = decoded_event(event(asset="_sys/edge/agents/edge-1", source="connectivity"))
    assert ev.asset == AssetPath("_sys", "edge", "agents", "edge-1")


@pytest.mark.parametrize(("field", "value"), [("agent", 5), ("agent", ""), ("agent", None), ("state", 1),
                                              ("state", {"x": 1}), ("queue_depth", "5"), ("queue_depth", True),
                                              ("dropped", [1]), ("published", {"n": 1}), ("agent", "x" * 5000)])
def test_edge_status_fields_are_checked(field: str, value: Any) -> None:
    with pytest.raises(PayloadError):
        edge_line(status(**{field: value}))


def test_edge_status_line_for_a_valid_status() -> None:
    line = decoded_status(status())
    assert line.startswith("pipeline,component=edge,instance=edge-1 ") and "queue_depth=3" in line
    assert "state=\"offline\"" in decoded_status(json.dumps({"agent": "e1", "state": "offline"}).encode())


def test_connectivity_watcher_bounds_what_a_status_can_raise() -> None:
    w = ConnectivityWatcher(Connectivity())
    many = {f"s{i}": False for i in range(MAX_EDGE_SOURCES + 1)}
    assert w.on_status("edge-1", status(sources=many), T0) == []
    assert w.on_status("edge-1", status(sources={"x" * 1000: False}), T0) == []
    assert w.on_status("edge-1", status(state=["offline"]), T0) == []
    assert w.on_status("edge-1", json.dumps(["offline"]).encode(), T0) == []
    assert w.on_status("x" * 10_000, status(), T0) == []
    assert w.on_status("", status(), T0) == []
    # Nothing above was taken as a status: the first real one still clears a possible offline alert.
    events = w.on_status("edge-1", status(sources={"opc": False}), T0)
    assert [(e.kind, e.state) for e in events] == [("edge_offline", EventState.CLEARED),
                                                   ("source_down", EventState.FIRING)]


# -- property tests ----------------------------------------------------------------------

# Values that broke decoders or what comes after them: huge integers, non-finite floats,
# hostile times, long, multi-line and lone-surrogate text.
nasty_scalars = st.one_of(
    st.sampled_from([10**400, INT64_MAX + 1, INT64_MIN - 1, float("nan"), float("inf"), 1e308, True, False,
                     "x" * (MAX_TEXT_BYTES + 1), "a\nb", "\r", "\ud800", 'q"\\,= ', *HOSTILE_TS]),
    st.integers(), st.floats(), st.text(max_size=20),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=2),
)
json_values = st.recursive(
    st.one_of(st.none(), nasty_scalars),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children,
                                                                                max_size=4)),
    max_leaves=20,
)
offsets = st.builds(timezone, st.timedeltas(min_value=-timedelta(hours=23, minutes=59),
                                            max_value=timedelta(hours=23, minutes=59)))
hostile_ts = st.one_of(st.sampled_from(HOSTILE_TS), st.datetimes(timezones=offsets).map(datetime.isoformat),
                       st.datetimes().map(datetime.isoformat))
hostile_names = st.one_of(st.sampled_from(BAD_NAMES), st.text(max_size=70))
hostile_any = st.one_of(json_values, hostile_names, hostile_ts)
idents = st.from_regex(ID_PATTERN, fullmatch=True)
one_line = st.text(max_size=30).filter(lambda s: "\n" not in s and "\r" not in s)
in_range = st.datetimes(min_value=TS_MIN.replace(tzinfo=None),
                        max_value=TS_MAX.replace(tzinfo=None) - timedelta(microseconds=1), timezones=st.just(UTC))

valid_readings = st.builds(
    Reading, asset=st.just(ASSET), signal=idents, ts=in_range,
    value=st.one_of(st.none(), st.booleans(), st.integers(min_value=INT64_MIN, max_value=INT64_MAX),
                    st.floats(allow_nan=False, allow_infinity=False), one_line),
    quality=st.sampled_from(list(Quality)), status=st.one_of(st.none(), one_line.filter(bool)),
)
valid_events = st.builds(
    AlertEvent, asset=st.builds(AssetPath, idents, idents, idents, idents),
    source=idents, kind=idents, severity=st.sampled_from(list(Severity)), state=st.sampled_from(list(EventState)),
    key=idents, message=one_line, ts=in_range,
    details=st.dictionaries(st.text(max_size=8), st.one_of(
        st.none(), st.booleans(), st.text(max_size=10), st.floats(allow_nan=False, allow_infinity=False),
        st.integers(min_value=INT64_MIN, max_value=INT64_MAX)), max_size=4),
)
valid_statuses = st.fixed_dictionaries({
    "agent": one_line.filter(bool), "state": st.sampled_from(["online", "offline"]),
    "ts": in_range.map(datetime.isoformat), "queue_depth": st.integers(0, 10**6), "dropped": st.integers(0, 10**6),
    "published": st.integers(0, 10**9), "sources": st.dictionaries(idents, st.booleans(), max_size=3),
})

DELETE = object()
Path_ = tuple[str | int, ...]


def mutated(valid: st.SearchStrategy[dict[str, Any]],
            edits: dict[Path_, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid document with one or two fields replaced by a hostile value (of the field's kind) or deleted.

    Starting from a valid document means the hostile value gets past the earlier checks
    and reaches the code that has to cope with it.
    """
    def hostile(path: Path_) -> st.SearchStrategy[Any]:
        # Mostly a value of the kind that field attracts, sometimes anything, sometimes nothing.
        return st.integers(0, 5).flatmap(
            lambda i: st.just(DELETE) if i == 0 else hostile_any if i == 1 else edits[path])
    edit = st.sampled_from(list(edits)).flatmap(lambda path: hostile(path).map(lambda value: (path, value)))

    def apply(doc: dict[str, Any], changes: list[tuple[Path_, Any]]) -> dict[str, Any]:
        for path, value in changes:
            target: Any = doc
            for step in path[:-1]:
                target = target[step] if _has(target, step) else None
            if not (isinstance(target, dict) or _has(target, path[-1])):
                continue  # an earlier edit replaced the parent
            if value is not DELETE:
                target[path[-1]] = value
            elif _has(target, path[-1]):
                del target[path[-1]]
        return doc
    return st.builds(apply, valid, st.lists(edit, min_size=1, max_size=2))


def _has(container: Any, step: str | int) -> bool:
    if isinstance(container, dict):
        return step in container
    return isinstance(container, list) and isinstance(step, int) and step < len(container)


READING_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "signal": hostile_names, "ts": hostile_ts, "value": nasty_scalars, "quality": hostile_names,
    "status": hostile_names}
telemetry_docs = mutated(
    st.lists(valid_readings, min_size=1, max_size=3).map(lambda rs: json.loads(encode(ASSET, rs, agent="e1"))),
    {("v",): nasty_scalars, ("asset",): hostile_names, ("agent",): hostile_names, ("readings",): json_values,
     ("readings", 0): json_values, **{("readings", 0, k): v for k, v in READING_FIELDS.items()}},
)
event_docs = mutated(
    valid_events.map(lambda ev: json.loads(ev.encode())),
    {("v",): nasty_scalars, ("asset",): hostile_names, ("source",): hostile_names, ("kind",): hostile_names,
     ("severity",): hostile_names, ("state",): hostile_names, ("key",): hostile_names,
     ("message",): hostile_names, ("ts",): hostile_ts, ("details",): json_values,
     ("details", "x"): json_values},
)
status_docs = mutated(
    valid_statuses,
    {("agent",): hostile_names, ("state",): hostile_names, ("ts",): hostile_ts, ("queue_depth",): nasty_scalars,
     ("dropped",): nasty_scalars, ("published",): nasty_scalars, ("sources",): json_values,
     ("sources", "x" * 300): json_values, ("sources", "opc"): json_values},
)


def to_bytes(doc: object, ascii_only: bool) -> bytes:
    """JSON text as a hostile sender might write it: NaN literals, raw (even lone-surrogate) characters."""
    return json.dumps(doc, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


HYPOTHESIS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HYPOTHESIS
@given(st.binary(max_size=200))
def test_any_bytes_give_a_value_or_a_payload_error(payload: bytes) -> None:
    for decoder in DECODERS:
        only_payload_error(decoder, payload)
    assert isinstance(watch(payload), list)


@HYPOTHESIS
@given(json_values, st.booleans())
def test_any_json_gives_a_value_or_a_payload_error(doc: object, ascii_only: bool) -> None:
    payload = to_bytes(doc, ascii_only)
    for decoder in DECODERS:
        only_payload_error(decoder, payload)
    assert isinstance(watch(payload), list)


@HYPOTHESIS
@given(telemetry_docs, st.booleans())
def test_hostile_fields_in_telemetry_give_readings_or_a_payload_error(doc: dict[str, Any], ascii_only: bool) -> None:
    only_payload_error(decoded_telemetry, to_bytes(doc, ascii_only))


@HYPOTHESIS
@given(event_docs, st.booleans())
def test_hostile_fields_in_an_event_give_an_event_or_a_payload_error(doc: dict[str, Any], ascii_only: bool) -> None:
    only_payload_error(decoded_event, to_bytes(doc, ascii_only))


@HYPOTHESIS
@given(status_docs, st.booleans())
def test_hostile_fields_in_a_status_give_a_line_or_a_payload_error(doc: dict[str, Any], ascii_only: bool) -> None:
    payload = to_bytes(doc, ascii_only)
    only_payload_error(decoded_status, payload)
    assert isinstance(watch(payload), list)


@HYPOTHESIS
@given(st.lists(valid_readings, min_size=1, max_size=5))
def test_valid_readings_round_trip(readings: list[Reading]) -> None:
    assert decoded_telemetry(encode(ASSET, readings, agent="edge-1")) == readings


@HYPOTHESIS
@given(valid_events)
def test_valid_events_round_trip(ev: AlertEvent) -> None:
    assert decoded_event(ev.encode()) == ev


@HYPOTHESIS
@given(valid_statuses)
def test_valid_statuses_give_a_pipeline_point(doc: dict[str, Any]) -> None:
    assert decoded_status(json.dumps(doc).encode()).startswith("pipeline,component=edge,instance=")
