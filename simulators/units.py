"""OPC UA EngineeringUnits for the units used in plant files.

OPC UA Part 8 §5.6.3 encodes units with UN/CEFACT Recommendation 20 common codes:
UnitId is the code's ASCII characters packed big-endian into an Int32, in the namespace
http://www.opcfoundation.org/UA/units/un/cefact. Unknown units get UnitId -1, which the
specification reserves for "no unit id available".
"""

from __future__ import annotations

from asyncua import ua

UNECE_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"

# UN/CEFACT Recommendation 20, Annex II/III common codes.
UNECE_CODES: dict[str, str] = {
    "degC": "CEL",
    "kW": "KWT",
    "kWh": "KWH",
    "A": "AMP",
    "V": "VLT",
    "%": "P1",
    "rpm": "RPM",
    "mm/s": "C16",
    "bar": "BAR",
    "MPa": "MPA",
    "s": "SEC",
    "Hz": "HTZ",
    "m3": "MTQ",
    "mm": "MMT",
}


def unit_id(code: str) -> int:
    """Pack a UN/CEFACT common code into the OPC UA UnitId (Part 8 §5.6.3)."""
    value = 0
    for ch in code:
        value = (value << 8) | ord(ch)
    return value


def eu_information(unit: str) -> ua.EUInformation:
    """EUInformation for a unit symbol as written in the plant file."""
    code = UNECE_CODES.get(unit)
    return ua.EUInformation(
        NamespaceUri=UNECE_NAMESPACE,
        UnitId=unit_id(code) if code else -1,
        DisplayName=ua.LocalizedText(unit),
        Description=ua.LocalizedText(unit),
    )
