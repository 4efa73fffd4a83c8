import { useTranslation } from "react-i18next";
import { Link, Navigate, Route, Routes } from "react-router";
import { useAuth } from "./auth/context";
import { Loading } from "./components/Card";
import { Layout } from "./components/Layout";
import { RequireRole } from "./components/RequireRole";
import { AdminAudit, AdminBackups, AdminDocuments, AdminIntegrations, AdminKeys, AdminMeters, AdminSettings } from "./pages/admin/lazy";
import { Home } from "./pages/home/Home";
import { MetersPage } from "./pages/meters";
import { PlaybookPage } from "./pages/playbook";
import { PricesPage } from "./pages/prices";
import { Placeholder } from "./pages/placeholder/Placeholder";
import { SignIn } from "./pages/signin/SignIn";
import { SupportPage } from "./pages/support/lazy";
import { System } from "./pages/system/System";
import { PAGES, SIGN_IN } from "./routes";

const BUILT: Record<string, () => React.JSX.Element> = { "/": Home, "/prices": PricesPage, "/smart-meters": MetersPage, "/playbook": PlaybookPage, "/support": SupportPage, "/console/system": System, "/console/keys": AdminKeys, "/console/documents": AdminDocuments, "/console/audit": AdminAudit, "/console/settings": AdminSettings, "/console/backups": AdminBackups, "/console/meters": AdminMeters, "/console/integrations": AdminIntegrations };

function NotFound() {
  const { t } = useTranslation();
  return (
    <div>
      <h1 className="mb-3 text-2xl font-semibold">{t("notFound.title")}</h1>
      <Link className="text-sky-700 underline dark:text-sky-300" to="/">
        {t("notFound.home")}
      </Link>
    </div>
  );
}

function SignedIn() {
  const { caller, checking } = useAuth();
  if (checking && !caller) return <main className="p-6"><Loading /></main>;
  if (!caller) return <Navigate to={SIGN_IN} replace />;
  return <Layout />;
}

export function App() {
  return (
    <Routes>
      <Route path={SIGN_IN} element={<SignIn />} />
      <Route element={<SignedIn />}>
        {PAGES.map((page) => {
          const Page = BUILT[page.path];
          return (
            <Route
              key={page.path}
              path={page.path}
              element={<RequireRole role={page.role}>{Page ? <Page /> : <Placeholder label={page.label} />}</RequireRole>}
            />
          );
        })}
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
