"""Answer texts for tool results, German or English: the numbers with units and the period.

The sentences are kept whole on one line each (readable as text); time ranges use an en dash.
"""

# ruff: noqa: E501, RUF001

from __future__ import annotations

from typing import Any

from luna_iems.assistant.intents import Intent, Lang
from luna_iems.assistant.tools import ToolResult


def num(value: float | None, lang: Lang, digits: int = 1) -> str:
    if value is None:
        return "-"
    text = f"{value:,.{digits}f}"
    if lang == "de":
        text = text.replace(",", "\u2009").replace(".", ",")
    return text


def _signed(value: float | None, lang: Lang, digits: int = 1) -> str:
    if value is None:
        return "-"
    return ("+" if value > 0 else "") + num(value, lang, digits)


def _t(lang: Lang, de: str, en: str) -> str:
    return de if lang == "de" else en


def render(intent: Intent, result: ToolResult, lang: Lang) -> str:
    """One or two sentences stating the result's numbers."""
    d = result.data
    renderer = _RENDERERS.get(result.tool, _generic)
    return renderer(intent, d, lang)


def _kpis(intent: Intent, d: dict[str, Any], lang: Lang) -> str:
    head = _t(lang, f"Standort {d['site']}, {d['period']}: ", f"Site {d['site']}, {d['period']}: ")

    def n(key: str, digits: int = 1) -> str:
        return num(d.get(key), lang, digits)

    parts = {
        "autarky": _t(
            lang,
            f"Autarkie {n('autarky_pct')} % (Verbrauch {n('consumption_kwh')} kWh, "
            f"Netzbezug {n('import_kwh')} kWh).",
            f"autarky {n('autarky_pct')} % (consumption "
            f"{n('consumption_kwh')} kWh, grid import {n('import_kwh')} kWh).",
        ),
        "self_consumption": _t(
            lang,
            f"Eigenverbrauchsquote {n('self_consumption_pct')} % (PV {n('production_kwh')} "
            f"kWh, Einspeisung {n('export_kwh')} kWh).",
            f"self-consumption "
            f"{n('self_consumption_pct')} % (PV {n('production_kwh')} kWh, export {n('export_kwh')} kWh).",
        ),
        "consumption": _t(
            lang,
            f"Verbrauch {n('consumption_kwh')} kWh, PV-Erzeugung {n('production_kwh')} kWh.",
            f"consumption {n('consumption_kwh')} kWh, PV production {n('production_kwh')} kWh.",
        ),
        "import": _t(
            lang,
            f"Netzbezug {n('import_kwh')} kWh, Einspeisung {n('export_kwh')} kWh.",
            f"grid import {n('import_kwh')} kWh, export {n('export_kwh')} kWh.",
        ),
        "peak": _t(
            lang,
            f"Lastspitze {n('peak_load_kw', 2)} kW, höchster Netzbezug {n('peak_import_kw', 2)} kW.",
            f"peak load {n('peak_load_kw', 2)} kW, peak grid import {n('peak_import_kw', 2)} kW.",
        ),
        "bill": _t(
            lang,
            f"Bezugskosten {n('import_cost_eur', 2)} €, netto {n('net_cost_eur', 2)} € "
            f"(Netzbezug {n('import_kwh')} kWh).",
            f"import cost {n('import_cost_eur', 2)} €, net "
            f"{n('net_cost_eur', 2)} € (grid import {n('import_kwh')} kWh).",
        ),
    }
    if intent in parts:
        text = head + parts[intent]
    else:
        text = head + " ".join(parts[k] for k in ("consumption", "import", "autarky", "bill"))
    coverage = d.get("coverage_pct")
    if coverage is not None and coverage < 90:
        text += _t(
            lang,
            f" (Nur {n('coverage_pct')} % des Zeitraums mit Messwerten.)",
            f" (Readings cover only {n('coverage_pct')} % of the period.)",
        )
    return text


_DRIVER_NAMES = {
    "import volume": ("mehr Netzbezug", "more grid import"),
    "import price": ("höhere Strompreise", "higher prices"),
    "peak charge": ("der Leistungspreis (Lastspitze)", "the peak (capacity) charge"),
}


def _compare(intent: Intent, d: dict[str, Any], lang: Lang) -> str:
    now, before, ch = d["period"], d["previous"], d["changes_pct"]
    de_driver, en_driver = _DRIVER_NAMES[d["driver"]]
    effect = d["effects_eur"][d["driver"]]
    price_now = None if now["mean_import_price_eur_kwh"] is None else now["mean_import_price_eur_kwh"] * 100
    price_before = (
        None if before["mean_import_price_eur_kwh"] is None else before["mean_import_price_eur_kwh"] * 100
    )
    if lang == "de":
        return (
            f"Standort {d['site']}: Kosten {num(now['cost_eur'], lang, 2)} € im Zeitraum {now['period']} gegenüber "
            f"{num(before['cost_eur'], lang, 2)} € im Zeitraum {before['period']} ({_signed(d['cost_change_eur'], lang, 2)} €). "
            f"Größter Treiber: {de_driver} ({_signed(effect, lang, 2)} €). Netzbezug {num(before['import_kwh'], lang)} → "
            f"{num(now['import_kwh'], lang)} kWh ({_signed(ch['import_kwh'], lang)} %), davon abends 17–21 Uhr "
            f"{num(before['evening_import_kwh'], lang)} → {num(now['evening_import_kwh'], lang)} kWh "
            f"({_signed(ch['evening_import_kwh'], lang)} %); mittlerer Bezugspreis {num(price_before, lang, 2)} → "
            f"{num(price_now, lang, 2)} ct/kWh; höchster Netzbezug {num(now['peak_import_kw'], lang, 2)} kW."
        )
    return (
        f"Site {d['site']}: cost {num(now['cost_eur'], lang, 2)} € in {now['period']} against "
        f"{num(before['cost_eur'], lang, 2)} € in {before['period']} ({_signed(d['cost_change_eur'], lang, 2)} €). "
        f"Largest driver: {en_driver} ({_signed(effect, lang, 2)} €). Grid import {num(before['import_kwh'], lang)} → "
        f"{num(now['import_kwh'], lang)} kWh ({_signed(ch['import_kwh'], lang)} %), in the evening peak 17:00–21:00 "
        f"{num(before['evening_import_kwh'], lang)} → {num(now['evening_import_kwh'], lang)} kWh "
        f"({_signed(ch['evening_import_kwh'], lang)} %); mean import price {num(price_before, lang, 2)} → "
        f"{num(price_now, lang, 2)} ct/kWh; peak import {num(now['peak_import_kw'], lang, 2)} kW."
    )


def _prices(intent: Intent, d: dict[str, Any], lang: Lang) -> str:
    hours = ", ".join(f"{h['start'][11:16]} ({num(h['price_ct_kwh'], lang, 2)} ct/kWh)" for h in d["hours"])
    cheap = d["order"] == "cheapest"
    label = _t(lang, "Günstigste" if cheap else "Teuerste", "Cheapest" if cheap else "Most expensive")
    return _t(
        lang,
        f"{label} Stunden am {d['period']}: {hours}; Mittel {num(d['mean_ct_kwh'], lang, 2)} ct/kWh.",
        f"{label} hours on {d['period']}: {hours}; mean {num(d['mean_ct_kwh'], lang, 2)} ct/kWh.",
    )


def _plan(intent: Intent, d: dict[str, Any], lang: Lang) -> str:
    b = d["battery"]
    windows = ", ".join(
        f"{w['start']}–{w['end']} ({num(w['energy_kwh'], lang)} kWh)" for w in d["charge_windows"]
    )
    windows = windows or _t(lang, "gar nicht", "not at all")
    assume = _t(
        lang,
        f"Annahme: Batterie {num(b['capacity_kwh'], lang)} kWh / {num(b['power_kw'], lang)} kW.",
        f"Assumed battery: {num(b['capacity_kwh'], lang)} kWh / {num(b['power_kw'], lang)} kW.",
    )
    return _t(
        lang,
        f"Laden am {d['day']} laut Optimierer: {windows}. Plan-Kosten {num(d['cost_eur'], lang, 2)} €, "
        f"Ersparnis {num(d['savings_eur'], lang, 2)} €. {assume}",
        f"The optimiser charges on {d['day']}: {windows}. Plan cost {num(d['cost_eur'], lang, 2)} €, "
        f"savings {num(d['savings_eur'], lang, 2)} €. {assume}",
    )


def _forecast(intent: Intent, d: dict[str, Any], lang: Lang) -> str:
    what = {
        "load": ("Verbrauch", "load"),
        "pv": ("PV-Erzeugung", "PV production"),
        "price": ("Preis", "price"),
    }
    de, en = what[d["target"]]
    if "energy_kwh" in d:
        return _t(
            lang,
            f"Prognose {de}, nächste {d['horizon_h']} h: {num(d['energy_kwh'], lang)} kWh, "
            f"Spitze {num(d['peak_kw'], lang, 2)} kW (Modell {d['model']}).",
            f"Forecast {en}, next "
            f"{d['horizon_h']} h: {num(d['energy_kwh'], lang)} kWh, peak {num(d['peak_kw'], lang, 2)} kW "
            f"(model {d['model']}).",
        )
    return _t(
        lang,
        f"Prognose {de}, nächste {d['horizon_h']} h: im Mittel {num(d['mean'], lang, 2)} {d['unit']}.",
        f"Forecast {en}, next {d['horizon_h']} h: mean {num(d['mean'], lang, 2)} {d['unit']}.",
    )


def _alerts(intent: Intent, d: dict[str, Any], lang: Lang) -> str:
    items = "; ".join(
        f"{a['severity']} {a['kind']} ({a['meter_id'] or '-'}, {a['start_at'][:16]})" for a in d["items"][:3]
    )
    return _t(
        lang,
        f"{d['open']} offene Alarme" + (f": {items}." if items else "."),
        f"{d['open']} open alerts" + (f": {items}." if items else "."),
    )


def _rules(intent: Intent, d: dict[str, Any], lang: Lang) -> str:
    names = ", ".join(
        f"{r['name']} ({_t(lang, 'aktiv', 'on') if r['enabled'] else _t(lang, 'aus', 'off')})"
        for r in d["items"][:10]
    )
    return _t(
        lang,
        f"{d['total']} Regeln" + (f": {names}." if names else "."),
        f"{d['total']} rules" + (f": {names}." if names else "."),
    )


def _whatif(intent: Intent, d: dict[str, Any], lang: Lang) -> str:
    x = d["deltas"]
    changes = ", ".join(f"{k}={v}" for k, v in d["changes"].items() if k != "name")
    return _t(
        lang,
        f"Was-wäre-wenn ({changes}) für {d['period']}: Kosten {_signed(x.get('cost_eur'), lang, 2)} €, "
        f"Netzbezug {_signed(x.get('import_kwh'), lang)} kWh, Autarkie {_signed(x.get('autarky_pp'), lang)} Prozentpunkte.",
        f"What-if ({changes}) over {d['period']}: cost {_signed(x.get('cost_eur'), lang, 2)} €, grid import "
        f"{_signed(x.get('import_kwh'), lang)} kWh, autarky {_signed(x.get('autarky_pp'), lang)} percentage points.",
    )


def _generic(intent: Intent, d: dict[str, Any], lang: Lang) -> str:
    return ", ".join(f"{k}: {v}" for k, v in d.items() if not isinstance(v, (dict, list)))


_RENDERERS = {
    "site_kpis": _kpis,
    "compare_periods": _compare,
    "price_hours": _prices,
    "optimiser_plan": _plan,
    "forecast": _forecast,
    "open_alerts": _alerts,
    "list_rules": _rules,
    "what_if": _whatif,
}
