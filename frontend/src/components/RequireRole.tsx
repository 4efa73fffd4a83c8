import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { allows } from "../api/roles";
import type { Role } from "../api/types";
import { useAuth } from "../auth/context";

/** A page opened by URL with a key whose role is too low: say which role it needs (the API would refuse too). */
export function RequireRole({ role, children }: { role: Role; children: ReactNode }) {
  const { t } = useTranslation();
  const { caller } = useAuth();
  if (allows(caller?.role, role)) return <>{children}</>;
  return (
    <p role="alert" className="rounded border border-amber-500 p-3">
      {t("placeholder.needs", { role: t(`roles.${role}`), have: t(`roles.${caller?.role ?? "viewer"}`) })}
    </p>
  );
}
