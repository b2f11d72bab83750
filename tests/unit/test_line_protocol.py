"""The fast telemetry serializer writes exactly what influxdb-client's Point writes.

Property-based (hypothesis): arbitrary identifiers, text with quotes, backslashes, commas,
equals signs, spaces, newlines and non-ASCII, any finite float, integers, booleans and
missing values (DESIGN.md §5: a faster serializer replaces the library's only when it is
property-tested against it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.schema import fast_telemetry_lines, telemetry_lines
from twin.readings import Quality, Reading
from twin.topics import AssetPath

ident = st.text(min_size=1, max_size=12).filter(lambda s: "/" not in s)
text = st.text(max_size=20)
values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False), text,
)
readings = st.builds(
    Reading,
    asset=st.builds(AssetPath, ident, ident, ident, ident),
    signal=ident,
    ts=st.integers(min_value=0, max_value=2**40).map(
        lambda us: datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)),
    value=values,
    quality=st.sampled_from(list(Quality)),
    status=st.one_of(st.none(), text),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(readings, min_size=1, max_size=5))
def test_fast_serializer_matches_point(batch: list[Reading]) -> None:
    assert fast_telemetry_lines(batch) == telemetry_lines(batch)


def test_hand_checked_line() -> None:
    r = Reading(AssetPath("s 1", "a,b", "l=1", "m\\"), "temp\n", datetime(2026, 1, 1, tzinfo=UTC), 21.0,
                Quality.BAD, 'say "hi"\\')
    expected = ('telemetry,area=a\\,b,asset=m\\ ,line=l\\=1,signal=temp\\n,site=s\\ 1 '
                'quality="bad",status="say \\"hi\\"\\\\",value=21 1767225600000000000')
    assert fast_telemetry_lines([r]) == [expected]
