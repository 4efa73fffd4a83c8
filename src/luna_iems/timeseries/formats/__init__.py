"""Pure parsers for real meter and market formats: DSMR P1, SML, ENTSO-E A44, MQTT JSON.

No database, no HTTP: bytes or text in, value objects out (kW, kWh, V, EUR/MWh, aware UTC;
grid power + = import, - = export). Every decoding problem raises `FormatError` (422).
"""

from luna_iems.timeseries.formats.dsmr import parse_dsmr
from luna_iems.timeseries.formats.entsoe import MARKETS, parse_entsoe_a44
from luna_iems.timeseries.formats.errors import FormatError
from luna_iems.timeseries.formats.mqtt import JsonReading, parse_json_reading, parse_tasmota_sensor
from luna_iems.timeseries.formats.samples import MeterSample, PricePoint, PriceSeries
from luna_iems.timeseries.formats.sml import parse_sml

__all__ = [
    "MARKETS",
    "FormatError",
    "JsonReading",
    "MeterSample",
    "PricePoint",
    "PriceSeries",
    "parse_dsmr",
    "parse_entsoe_a44",
    "parse_json_reading",
    "parse_sml",
    "parse_tasmota_sensor",
]
