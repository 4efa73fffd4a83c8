import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Navigate } from "react-router";
import { UnreachableError } from "../../api/client";
import { useAuth } from "../../auth/context";
import { ConnectionBanner } from "../../components/ConnectionBanner";
import { ErrorNote } from "../../components/ErrorNote";
import { Toolbar } from "../../components/Layout";

export function SignIn() {
  const { t } = useTranslation();
  const { caller, signIn, notice } = useAuth();
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  if (caller) return <Navigate to="/" replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(key.trim());
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="min-h-screen">
      <ConnectionBanner />
      <div className="flex justify-end p-3">
        <Toolbar />
      </div>
      <main id="content" className="mx-auto mt-8 max-w-md px-4">
        <h1 className="mb-2 text-2xl font-semibold">
          {t("app.name")}: {t("signin.title")}
        </h1>
        <p className="mb-4 text-sm text-slate-700 dark:text-slate-300">{t("signin.intro")}</p>
        <form onSubmit={submit} className="space-y-3 rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900">
          <label htmlFor="api-key" className="block text-sm font-medium">
            {t("signin.key")}
          </label>
          <input
            id="api-key"
            type="password"
            autoComplete="off"
            required
            value={key}
            onChange={(event) => setKey(event.target.value)}
            className="w-full rounded border border-slate-400 bg-white px-3 py-2 font-mono text-sm dark:border-slate-600 dark:bg-slate-950"
          />
          {notice && !error && <ErrorNote error={new Error(notice)} />}
          {error !== null && !(error instanceof UnreachableError) && <ErrorNote error={error} />}
          <button
            type="submit"
            disabled={busy || key.trim() === ""}
            className="rounded bg-sky-700 px-4 py-2 text-sm font-semibold text-white hover:bg-sky-800 disabled:opacity-60"
          >
            {busy ? t("signin.checking") : t("signin.submit")}
          </button>
          <p className="text-xs text-slate-600 dark:text-slate-400">{t("signin.kept")}</p>
        </form>
      </main>
    </div>
  );
}
