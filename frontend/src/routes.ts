// The app's pages. Paths avoid the API's own first segments (/admin, /meters, ... belong to the API,
// which the same server answers), so a reload of any page reaches the app: the admin console lives
// under /console. tests/routes.test.ts checks this against openapi.json.
import type { Role } from "./api/types";

export interface PageDef {
  path: string;
  /** i18n key of the navigation label */
  label: string;
  role: Role;
  group: "main" | "admin";
  /** built in this pass; the others render a "coming next" placeholder */
  ready: boolean;
}

export const PAGES: PageDef[] = [
  { path: "/", label: "nav.home", role: "viewer", group: "main", ready: true },
  { path: "/prices", label: "nav.prices", role: "viewer", group: "main", ready: true },
  { path: "/smart-meters", label: "nav.meters", role: "viewer", group: "main", ready: true },
  { path: "/playbook", label: "nav.playbook", role: "viewer", group: "main", ready: true },
  { path: "/support", label: "nav.support", role: "viewer", group: "main", ready: true },
  { path: "/console/system", label: "nav.system", role: "admin", group: "admin", ready: true },
  { path: "/console/documents", label: "nav.documents", role: "admin", group: "admin", ready: true },
  { path: "/console/keys", label: "nav.keys", role: "admin", group: "admin", ready: true },
  { path: "/console/audit", label: "nav.audit", role: "admin", group: "admin", ready: true },
  { path: "/console/settings", label: "nav.settings", role: "admin", group: "admin", ready: true },
  { path: "/console/backups", label: "nav.backups", role: "admin", group: "admin", ready: true },
  { path: "/console/meters", label: "nav.metersAdmin", role: "admin", group: "admin", ready: true },
  { path: "/console/integrations", label: "nav.integrations", role: "admin", group: "admin", ready: true },
];

export const SIGN_IN = "/sign-in";
