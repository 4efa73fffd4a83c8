// The Market prices page's texts (own bundle, merged into "translation" at load: no edits to the shared files).
import i18n from "../../i18n";

const en = {
  prices: {
    title: "Market prices",
    intro: "Day-ahead prices of {{market}} ({{product}}), {{resolution}} resolution, times in {{tz}}.",
    day: "Day", today: "Today", tomorrow: "Tomorrow", previous: "Previous day", next: "Next day",
    dayTitle: "Day-ahead curve, {{day}}", dayChart: "Day-ahead price over the day in EUR/MWh",
    noDay: "No prices stored for {{day}}.",
    min: "Lowest", max: "Highest", mean: "Average", negativeHours: "Negative prices", at: "at {{time}}",
    hours: "{{value}} h",
    negative: "Negative price", negativeLegend: "Red shading: negative price (taking energy from the grid is paid)",
    negativeList: "Negative periods", noNegative: "No negative prices in this period.",
    period: "{{from}} – {{to}}, lowest {{min}}",
    history: "History", historyChart: "Price history in EUR/MWh, zoomable", range: "Range",
    weeks: "{{count}} weeks", zoomHint: "Zoom with the mouse wheel or the slider below; drag to move.",
    points: "{{count}} prices",
    compare: "Compare", compareChart: "Prices of the chosen days or weeks laid over each other, in EUR/MWh",
    byDay: "Days", byWeek: "Weeks", pick: "Shown", week: "Week {{week}} (from {{day}})",
    price: "Price",
    resolution15: "15-minute", resolution60: "hourly",
    weekdays: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
  },
};

const de: typeof en = {
  prices: {
    title: "Marktpreise",
    intro: "Day-Ahead-Preise {{market}} ({{product}}), {{resolution}} Auflösung, Zeiten in {{tz}}.",
    day: "Tag", today: "Heute", tomorrow: "Morgen", previous: "Vortag", next: "Folgetag",
    dayTitle: "Day-Ahead-Kurve, {{day}}", dayChart: "Day-Ahead-Preis über den Tag in EUR/MWh",
    noDay: "Für {{day}} sind keine Preise gespeichert.",
    min: "Niedrigster", max: "Höchster", mean: "Durchschnitt", negativeHours: "Negative Preise", at: "um {{time}}",
    hours: "{{value}} h",
    negative: "Negativer Preis", negativeLegend: "Rot hinterlegt: negativer Preis (Strombezug wird vergütet)",
    negativeList: "Negative Zeiträume", noNegative: "Keine negativen Preise in diesem Zeitraum.",
    period: "{{from}} – {{to}}, Tiefstwert {{min}}",
    history: "Verlauf", historyChart: "Preisverlauf in EUR/MWh, zoombar", range: "Zeitraum",
    weeks: "{{count}} Wochen", zoomHint: "Zoomen mit dem Mausrad oder dem Schieber unten; Ziehen verschiebt.",
    points: "{{count}} Preise",
    compare: "Vergleich", compareChart: "Preise der gewählten Tage oder Wochen übereinandergelegt, in EUR/MWh",
    byDay: "Tage", byWeek: "Wochen", pick: "Angezeigt", week: "KW {{week}} (ab {{day}})",
    price: "Preis",
    resolution15: "15-Minuten-", resolution60: "stündliche",
    weekdays: ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"],
  },
};

i18n.addResourceBundle("en", "translation", en, true, false);
i18n.addResourceBundle("de", "translation", de, true, false);

export { de, en };
