// Home's plan card texts (own bundle, merged into "translation" at load: no edits to the shared files).
import i18n from "../../i18n";

const en = {
  homePlan: {
    title: "Next 24 h plan",
    titleDay: "Plan for {{day}}",
    saving: "Saving",
    costs: "(planned {{planned}} vs {{baseline}} without flexibility)",
    status: "Solver status: {{status}} ({{time}})",
    link: "Open in the Playbook",
    planHint: "Optimised for cost with the stored forecasts and prices; assumed: a {{capacity}} kWh battery ({{power}} kW) and an EV charge of {{ev}} kWh at {{evPower}} kW.",
  },
  homeRecommend: {
    title: "Recommended for you",
    intro: "Ranked for this page, the time of day and the open alerts. Your clicks and dismissals teach the ranking (anonymously).",
    empty: "Nothing to recommend right now.",
    allDismissed: "All suggestions dismissed.",
    open: "Open",
    dismiss: "Dismiss",
    dismissLabel: "Dismiss “{{title}}”",
    document: "Document",
    action: "Action",
    question: "Were these suggestions useful?",
    up: "Useful",
    down: "Not useful",
    sending: "Sending…",
    sentUp: "Recorded: useful.",
    sentDown: "Recorded: not useful.",
    policy: "Ranking: {{policy}}",
    refresh: "Refresh",
  },
};

const de = {
  homePlan: {
    title: "Plan der nächsten 24 h",
    titleDay: "Plan für {{day}}",
    saving: "Ersparnis",
    costs: "(geplant {{planned}} statt {{baseline}} ohne Flexibilität)",
    status: "Solver-Status: {{status}} ({{time}})",
    link: "Im Playbook öffnen",
    planHint: "Kostenoptimiert mit den gespeicherten Prognosen und Preisen; angenommen: eine Batterie mit {{capacity}} kWh ({{power}} kW) und eine E-Auto-Ladung von {{ev}} kWh mit {{evPower}} kW.",
  },
  homeRecommend: {
    title: "Empfehlungen für Sie",
    intro: "Gereiht nach dieser Seite, der Tageszeit und den offenen Alarmen. Ihre Klicks und Ablehnungen verbessern die Reihenfolge (anonym).",
    empty: "Gerade gibt es nichts zu empfehlen.",
    allDismissed: "Alle Vorschläge ausgeblendet.",
    open: "Öffnen",
    dismiss: "Ausblenden",
    dismissLabel: "„{{title}}“ ausblenden",
    document: "Dokument",
    action: "Aktion",
    question: "Waren diese Vorschläge nützlich?",
    up: "Nützlich",
    down: "Nicht nützlich",
    sending: "Wird gesendet …",
    sentUp: "Gespeichert: nützlich.",
    sentDown: "Gespeichert: nicht nützlich.",
    policy: "Reihung: {{policy}}",
    refresh: "Neu laden",
    arms: {
      charge_battery_cheap: "Batterie in günstigen Stunden laden",
      discharge_battery_peak: "Batterie bei hohen Preisen entladen",
      shift_load_to_pv: "Flexible Lasten in die PV-Mittagszeit verschieben",
      review_alerts: "Offene Alarme prüfen",
      lower_peak_limit: "Bezugsspitzengrenze senken",
      check_tariff: "Tarif prüfen",
      run_what_if: "Ein Was-wäre-wenn-Szenario durchspielen",
      ask_luna: "Luna fragen oder die Anleitungen lesen",
    },
    reasons: {
      discharge_pays: "Batterie bei {{soc}} % und hohe Preise um {{at}} Uhr: Entladen lohnt sich",
      charging_cheap: "Batterie bei {{soc}} % und niedrige Preise um {{at}} Uhr: jetzt zu laden ist günstig",
      pv_midday: "{{at}} Uhr ist PV-Mittag: flexible Lasten laufen jetzt mit eigenem Solarstrom",
      open_alerts_one: "{{count}} offener Alarm wartet",
      open_alerts_other: "{{count}} offene Alarme warten",
      lower_peak: "Hohe Preise um {{at}} Uhr: eine niedrigere Bezugsspitzengrenze kappt die teure Spitze",
      check_tariff: "Die Preise sind hoch: prüfen, ob der Tarif noch passt",
      rated_one: "in {{count}} ähnlichen Situation im Schnitt mit {{mean}} bewertet",
      rated_other: "in {{count}} ähnlichen Situationen im Schnitt mit {{mean}} bewertet",
      similar_question: "ähnlich zu Ihrer Frage ({{similarity}})",
      fits_page: "passt zu der Seite, auf der Sie sind ({{similarity}})",
      document_match: "ähnlich zu Ihrer Frage: „{{snippet}}“",
    },
  },
};

i18n.addResourceBundle("en", "translation", en, true, false);
i18n.addResourceBundle("de", "translation", de, true, false);

export { de, en };
