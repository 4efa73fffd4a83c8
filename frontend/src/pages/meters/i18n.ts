// The Smart meters page's texts (own bundle, merged into "translation" at load: no edits to the shared files).
import i18n from "../../i18n";

const en = {
  smartMeters: {
    title: "Smart meters", scope: "Show", site: "Site {{site}} (all meters)", meter: "Meter {{meter}}", sites: "Sites", meters: "Meters",
    live: "Live values", every: "updated every {{seconds}} s", newest: "Newest reading: {{time}}", ago: "({{age}} ago)", noReading: "no reading yet",
    colMeter: "Meter", colKind: "Kind", colTime: "Reading time", colConsumption: "Consumption", colProduction: "Production", colVoltage: "Voltage", siteTotal: "Site total",
    sim: "Simulation", simRunning: "running: a reading per simulated meter every {{seconds}} s", simStopped: "stopped",
    simStarted: "since {{time}}", simLastWrite: "last write {{time}}", simRows: "{{count}} rows written", simError: "Last error: {{message}}",
    start: "Start simulation", stop: "Stop simulation", simViewer: "Starting and stopping needs the role analyst.",
    trend: "Trend", range: "Range", bucket: "Bucket", agg: "Aggregate",
    ranges: { "24h": "24 hours", "7d": "7 days", "28d": "28 days", "1y": "1 year" },
    linkDay: "{{day}} (linked)", linkRange: "{{first}} to {{last}} (linked)",
    buckets: { "15m": "15 min", "1h": "1 hour", "1d": "1 day", "1w": "1 week", "1mo": "1 month" },
    aggs: { avg: "mean power (kW)", min: "minimum power (kW)", max: "maximum power (kW)", sum: "energy (kWh)", last: "last value (kW)" },
    siteAggs: "A site adds its meters: mean power or energy.",
    chart: "{{scope}}: {{what}} per {{bucket}}", consumption: "Consumption", production: "Production",
    points: "{{count}} points", drawn: "drawn in {{ms}} ms", gaps: "{{count}} buckets with gaps (coverage < 99 %)", noGaps: "no gaps",
    truncated: "The answer was cut at the API's limit; choose a coarser bucket.",
    quality: "Data quality", qualityIntro: "Per ingest batch and series, the newest report of each meter.",
    colBatch: "Checked", colRows: "Rows / expected", colMissing: "Missing", colOutliers: "Outliers (max z)", colDuplicates: "Duplicates", colOrder: "Out of order", colStatus: "Status",
    ok: "ok", flags: { gaps: "gaps", outliers: "outliers", duplicates: "duplicates", outOfOrder: "out of order" },
    noQuality: "No quality reports for these meters yet.",
    totals: "Totals for the shown period", totalsIntro: "{{from}} to {{to}}: the figures GET /kpis (and Luna) give for this scope.",
  },
};

const de: typeof en = {
  smartMeters: {
    title: "Smart Meter", scope: "Anzeige", site: "Standort {{site}} (alle Zähler)", meter: "Zähler {{meter}}", sites: "Standorte", meters: "Zähler",
    live: "Live-Werte", every: "alle {{seconds}} s aktualisiert", newest: "Neuester Messwert: {{time}}", ago: "(vor {{age}})", noReading: "noch kein Messwert",
    colMeter: "Zähler", colKind: "Art", colTime: "Messzeit", colConsumption: "Verbrauch", colProduction: "Erzeugung", colVoltage: "Spannung", siteTotal: "Standort gesamt",
    sim: "Simulation", simRunning: "läuft: ein Messwert je simuliertem Zähler alle {{seconds}} s", simStopped: "angehalten",
    simStarted: "seit {{time}}", simLastWrite: "zuletzt geschrieben {{time}}", simRows: "{{count}} Zeilen geschrieben", simError: "Letzter Fehler: {{message}}",
    start: "Simulation starten", stop: "Simulation anhalten", simViewer: "Starten und Anhalten erfordert die Rolle Analyst.",
    trend: "Verlauf", range: "Zeitraum", bucket: "Intervall", agg: "Aggregat",
    ranges: { "24h": "24 Stunden", "7d": "7 Tage", "28d": "28 Tage", "1y": "1 Jahr" },
    linkDay: "{{day}} (verlinkt)", linkRange: "{{first}} bis {{last}} (verlinkt)",
    buckets: { "15m": "15 min", "1h": "1 Stunde", "1d": "1 Tag", "1w": "1 Woche", "1mo": "1 Monat" },
    aggs: { avg: "mittlere Leistung (kW)", min: "minimale Leistung (kW)", max: "maximale Leistung (kW)", sum: "Energie (kWh)", last: "letzter Wert (kW)" },
    siteAggs: "Ein Standort addiert seine Zähler: mittlere Leistung oder Energie.",
    chart: "{{scope}}: {{what}} je {{bucket}}", consumption: "Verbrauch", production: "Erzeugung",
    points: "{{count}} Punkte", drawn: "gezeichnet in {{ms}} ms", gaps: "{{count}} Intervalle mit Lücken (Abdeckung < 99 %)", noGaps: "keine Lücken",
    truncated: "Die Antwort wurde am Limit der API abgeschnitten; bitte ein gröberes Intervall wählen.",
    quality: "Datenqualität", qualityIntro: "Je Import-Batch und Zeitreihe, der neueste Bericht jedes Zählers.",
    colBatch: "Geprüft", colRows: "Zeilen / erwartet", colMissing: "Fehlend", colOutliers: "Ausreißer (max. z)", colDuplicates: "Duplikate", colOrder: "Außer Reihenfolge", colStatus: "Status",
    ok: "ok", flags: { gaps: "Lücken", outliers: "Ausreißer", duplicates: "Duplikate", outOfOrder: "Reihenfolge" },
    noQuality: "Für diese Zähler gibt es noch keine Qualitätsberichte.",
    totals: "Summen für den gezeigten Zeitraum", totalsIntro: "{{from}} bis {{to}}: die Kennzahlen, die GET /kpis (und Luna) für diese Auswahl liefern.",
  },
};

i18n.addResourceBundle("en", "translation", en, true, false);
i18n.addResourceBundle("de", "translation", de, true, false);

export { de, en };
