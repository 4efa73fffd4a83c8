// The admin console's pages, loaded on first visit (one chunk, outside the entry bundle).
import { lazy, Suspense, type ComponentType } from "react";
import { Loading } from "../../components/Card";

const load = () => import("./console");

function wrap(Page: ComponentType) {
  return function AdminPage() {
    return (
      <Suspense fallback={<Loading />}>
        <Page />
      </Suspense>
    );
  };
}

export const AdminKeys = wrap(lazy(() => load().then((m) => ({ default: m.Keys }))));
export const AdminDocuments = wrap(lazy(() => load().then((m) => ({ default: m.Documents }))));
export const AdminAudit = wrap(lazy(() => load().then((m) => ({ default: m.Audit }))));
export const AdminSettings = wrap(lazy(() => load().then((m) => ({ default: m.Settings }))));
export const AdminBackups = wrap(lazy(() => load().then((m) => ({ default: m.Backups }))));
export const AdminMeters = wrap(lazy(() => load().then((m) => ({ default: m.MetersAdmin }))));
export const AdminIntegrations = wrap(lazy(() => load().then((m) => ({ default: m.Integrations }))));
