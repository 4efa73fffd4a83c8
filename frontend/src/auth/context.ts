import { createContext, useContext } from "react";
import type { CallerRead } from "../api/types";

export interface AuthState {
  /** The signed-in key, or null. */
  caller: CallerRead | null;
  /** A stored key is being checked (a reload). */
  checking: boolean;
  /** Why the user was signed out (the API's message), shown on the sign-in page. */
  notice: string | null;
  /** Rejects with the API's error when the key is refused. */
  signIn: (key: string) => Promise<void>;
  signOut: (message?: string | null) => void;
}

export const AuthContext = createContext<AuthState | null>(null);

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (state === null) throw new Error("useAuth outside AuthProvider");
  return state;
}
