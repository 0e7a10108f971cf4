// The four roles of an org member, strongest first. What each may do is the permission table (permissions.ts).
export const ROLES = ['owner', 'admin', 'developer', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** 0 for owner, growing as rights shrink. */
export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

/** Whether `role` has at least the rights of `than`. */
export function atLeast(role: Role, than: Role): boolean {
  return roleRank(role) <= roleRank(than);
}
