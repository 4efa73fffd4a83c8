import { useTranslation } from "react-i18next";

/** A page of the navigation that is not built yet: says so, never pretends. */
export function Placeholder({ label }: { label: string }) {
  const { t } = useTranslation();
  return (
    <div className="max-w-2xl">
      <h1 className="mb-3 text-2xl font-semibold">{t("placeholder.title", { page: t(label) })}</h1>
      <p className="text-slate-700 dark:text-slate-300">{t("placeholder.body")}</p>
      <p className="mt-3">
        <a className="text-sky-700 underline dark:text-sky-300" href="/docs">
          /docs
        </a>
      </p>
    </div>
  );
}
