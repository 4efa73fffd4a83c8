import type { Role } from "./types";

const RANK: Record<Role, number> = { viewer: 0, analyst: 1, admin: 2 };

/** Whether a key of role `have` may call operations that need `needed` (viewer < analyst < admin). */
export function allows(have: Role | undefined, needed: Role): boolean {
  return have !== undefined && RANK[have] >= RANK[needed];
}
