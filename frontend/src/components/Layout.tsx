import { useTranslation } from "react-i18next";
import { NavLink, Outlet, useLocation } from "react-router";
import { allows } from "../api/roles";
import { useAuth } from "../auth/context";
import { PAGES, type PageDef } from "../routes";
import { ConnectionBanner } from "./ConnectionBanner";
import { ErrorBoundary } from "./ErrorBoundary";
import { useTheme } from "./theme";

function NavItem({ page }: { page: PageDef }) {
  const { t } = useTranslation();
  return (
    <li>
      <NavLink
        to={page.path}
        end
        className={({ isActive }) =>
          `block rounded px-3 py-1.5 text-sm ${
            isActive
              ? "bg-sky-100 font-semibold text-sky-900 dark:bg-sky-900 dark:text-sky-50"
              : "text-slate-700 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800"
          }`
        }
      >
        {t(page.label)}
      </NavLink>
    </li>
  );
}

export function Toolbar() {
  const { t, i18n } = useTranslation();
  const [theme, toggleTheme] = useTheme();
  const language = i18n.language?.startsWith("de") ? "de" : "en";
  return (
    <div className="flex items-center gap-2">
      <label className="sr-only" htmlFor="language">
        {t("app.language")}
      </label>
      <select
        id="language"
        value={language}
        onChange={(event) => void i18n.changeLanguage(event.target.value)}
        className="rounded border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-900"
      >
        <option value="de">Deutsch</option>
        <option value="en">English</option>
      </select>
      <button
        type="button"
        onClick={toggleTheme}
        aria-pressed={theme === "light"}
        className="rounded border border-slate-300 px-2 py-1 text-sm hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800"
      >
        {theme === "dark" ? t("app.themeLight") : t("app.themeDark")}
      </button>
    </div>
  );
}

export function Layout() {
  const { t } = useTranslation();
  const { caller, signOut } = useAuth();
  const location = useLocation();
  const visible = PAGES.filter((page) => allows(caller?.role, page.role));
  const main = visible.filter((page) => page.group === "main");
  const admin = visible.filter((page) => page.group === "admin");
  return (
    <div className="min-h-screen">
      <a href="#content" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-10 focus:bg-white focus:p-2 focus:text-black">
        {t("app.skip")}
      </a>
      <ConnectionBanner />
      <header className="flex flex-wrap items-center justify-between gap-3 border-b border-slate-200 px-4 py-3 dark:border-slate-800">
        <div className="flex items-center gap-2">
          <img src="/favicon.svg" alt="" className="h-7 w-7" />
          <span className="text-lg font-semibold">{t("app.name")}</span>
        </div>
        <div className="flex flex-wrap items-center gap-3">
          {caller && (
            <span className="text-sm text-slate-600 dark:text-slate-400" data-testid="caller">
              {t("app.signedInAs", { name: caller.name, role: t(`roles.${caller.role}`) })}
            </span>
          )}
          <Toolbar />
          <a href="/docs" className="text-sm text-sky-700 underline dark:text-sky-300">
            {t("app.apiDocs")}
          </a>
          <button
            type="button"
            onClick={() => signOut()}
            className="rounded border border-slate-300 px-2 py-1 text-sm hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800"
          >
            {t("app.signOut")}
          </button>
        </div>
      </header>
      <div className="flex flex-col md:flex-row">
        <nav aria-label={t("app.menu")} className="border-b border-slate-200 p-3 md:min-h-[calc(100vh-4rem)] md:w-56 md:shrink-0 md:border-b-0 md:border-r dark:border-slate-800">
          <ul className="flex flex-wrap gap-1 md:flex-col">
            {main.map((page) => (
              <NavItem key={page.path} page={page} />
            ))}
          </ul>
          {admin.length > 0 && (
            <>
              <h2 className="mb-1 mt-4 px-3 text-xs font-semibold uppercase tracking-wide text-slate-600 dark:text-slate-400">
                {t("nav.admin")}
              </h2>
              <ul className="flex flex-wrap gap-1 md:flex-col" data-testid="admin-nav">
                {admin.map((page) => (
                  <NavItem key={page.path} page={page} />
                ))}
              </ul>
            </>
          )}
        </nav>
        <main id="content" className="min-w-0 flex-1 p-4 md:p-6">
          <ErrorBoundary key={location.pathname}>
            <Outlet />
          </ErrorBoundary>
        </main>
      </div>
    </div>
  );
}
