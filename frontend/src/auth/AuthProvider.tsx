import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError, api, getStoredKey, storeKey } from "../api/client";
import type { CallerRead } from "../api/types";
import { AuthContext, type AuthState } from "./context";

/** The signed-in key: kept in sessionStorage (gone when the tab closes), its role from GET /auth/me. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [caller, setCaller] = useState<CallerRead | null>(null);
  const [checking, setChecking] = useState<boolean>(() => getStoredKey() !== null);
  const [notice, setNotice] = useState<string | null>(null);

  const signOut = useCallback(
    (message: string | null = null) => {
      storeKey(null);
      setCaller(null);
      setNotice(message);
      queryClient.clear();
    },
    [queryClient],
  );

  const signIn = useCallback(async (key: string) => {
    const me = await api<CallerRead>("/auth/me", { key });
    storeKey(key);
    setNotice(null);
    setCaller(me);
  }, []);

  // A stored key (a reload): ask who it is before showing anything that needs it.
  useEffect(() => {
    const key = getStoredKey();
    if (key === null) return;
    api<CallerRead>("/auth/me", { key })
      .then(setCaller)
      .catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 401) signOut(error.message);
      })
      .finally(() => setChecking(false));
  }, [signOut]);

  // A key revoked while signed in: every later request gets 401; back to sign-in with the API's message.
  useEffect(
    () =>
      queryClient.getQueryCache().subscribe((event) => {
        const error = event.query.state.error;
        if (event.type === "updated" && error instanceof ApiError && error.status === 401) signOut(error.message);
      }),
    [queryClient, signOut],
  );

  const state = useMemo<AuthState>(
    () => ({ caller, checking, notice, signIn, signOut }),
    [caller, checking, notice, signIn, signOut],
  );
  return <AuthContext.Provider value={state}>{children}</AuthContext.Provider>;
}
