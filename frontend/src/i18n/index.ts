import i18n from "i18next";
import LanguageDetector from "i18next-browser-languagedetector";
import { initReactI18next } from "react-i18next";
import de from "./de.json";
import en from "./en.json";

export const LANGUAGES = ["en", "de"] as const;

// German when the browser prefers it (or the user chose it: remembered in localStorage), else English.
void i18n
  .use(LanguageDetector)
  .use(initReactI18next)
  .init({
    resources: { en: { translation: en }, de: { translation: de } },
    supportedLngs: LANGUAGES,
    nonExplicitSupportedLngs: true,
    fallbackLng: "en",
    interpolation: { escapeValue: false },
    showSupportNotice: false,
    detection: { order: ["localStorage", "navigator"], lookupLocalStorage: "luna.language", caches: ["localStorage"] },
  });

i18n.on("languageChanged", (language) => {
  document.documentElement.lang = language.startsWith("de") ? "de" : "en";
});

export default i18n;
