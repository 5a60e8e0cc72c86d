/**
 * The database roles of sql/migrations/0080_function_roles.sql (and 0020's superset_reader) are created
 * NOLOGIN, with no password in the repository. A deployment turns on the ones it uses with the
 * passwords it generated: `weather migrate` with DATABASE_ROLE_PASSWORDS, right after migrating
 * (the Kind migrate Job does this; docs/deploy-aws.md says how on AWS).
 */
import type pg from "pg";
import { ConfigError } from "../config/env.ts";

/** The roles a deployment may enable, one per function plus the BI reader. */
export const DATABASE_ROLES = [
  "weather_ingest",
  "weather_transform",
  "weather_checks",
  "weather_heal",
  "superset_reader",
] as const;
export type DatabaseRole = (typeof DATABASE_ROLES)[number];

/**
 * Reads DATABASE_ROLE_PASSWORDS: a JSON object of role name → password, e.g.
 * `{"weather_ingest":"…","weather_heal":"…"}`. Throws ConfigError naming the bad entry (never a value).
 */
export function parseRolePasswords(text: string): Partial<Record<DatabaseRole, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError('DATABASE_ROLE_PASSWORDS: not JSON; expected {"weather_ingest":"<password>", ...}');
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new ConfigError('DATABASE_ROLE_PASSWORDS: expected a JSON object {"<role>":"<password>", ...}');
  const out: Partial<Record<DatabaseRole, string>> = {};
  for (const [role, password] of Object.entries(parsed)) {
    if (!(DATABASE_ROLES as readonly string[]).includes(role))
      throw new ConfigError(
        `DATABASE_ROLE_PASSWORDS: unknown role "${role}"; the roles are ${DATABASE_ROLES.join(", ")}`,
      );
    if (typeof password !== "string" || password.length < 16)
      throw new ConfigError(
        `DATABASE_ROLE_PASSWORDS: the password of ${role} must be a string of 16 characters or more`,
      );
    out[role as DatabaseRole] = password;
  }
  return out;
}

/**
 * Lets each role log in with its password (idempotent: a rerun sets the same password; a new one
 * rotates it). Returns the roles enabled, in order. The statement is built by the server's format()
 * so role and password are quoted by Postgres itself; passwords never reach a log of ours.
 */
export async function enableRoles(
  pool: pg.Pool,
  passwords: Partial<Record<DatabaseRole, string>>,
): Promise<DatabaseRole[]> {
  const enabled: DatabaseRole[] = [];
  for (const role of DATABASE_ROLES) {
    const password = passwords[role];
    if (password === undefined) continue;
    const { rows } = await pool.query<{ sql: string }>(
      "select format('alter role %I login password %L', $1::text, $2::text) as sql",
      [role, password],
    );
    await pool.query(rows[0]?.sql as string);
    enabled.push(role);
  }
  return enabled;
}
