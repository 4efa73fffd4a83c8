// Home's plan card texts (own bundle, merged into "translation" at load: no edits to the shared files).
import i18n from "../../i18n";

const en = {
  homePlan: {
    title: "Next 24 h plan",
    saving: "Saving",
    costs: "(planned {{planned}} vs {{baseline}} without flexibility)",
    status: "Solver status: {{status}} ({{time}})",
    link: "Open in the Playbook",
    planHint: "Optimised for cost with the stored forecasts and prices; assumed: a {{capacity}} kWh battery ({{power}} kW) and an EV charge of {{ev}} kWh at {{evPower}} kW.",
  },
};

const de = {
  homePlan: {
    title: "Plan der nächsten 24 h",
    saving: "Ersparnis",
    costs: "(geplant {{planned}} statt {{baseline}} ohne Flexibilität)",
    status: "Solver-Status: {{status}} ({{time}})",
    link: "Im Playbook öffnen",
    planHint: "Kostenoptimiert mit den gespeicherten Prognosen und Preisen; angenommen: eine Batterie mit {{capacity}} kWh ({{power}} kW) und eine E-Auto-Ladung von {{ev}} kWh mit {{evPower}} kW.",
  },
};

i18n.addResourceBundle("en", "translation", en, true, false);
i18n.addResourceBundle("de", "translation", de, true, false);

export { de, en };
