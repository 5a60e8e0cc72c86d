/**
 * The site list: which places to fetch. A bad file is a configuration error (exit 2) whose message
 * names the file, the entry and the field.
 */
import { readFile } from "node:fs/promises";
import { en } from "zod/locales";
import * as z from "zod/mini";

// zod/mini ships without messages; English keeps the issue texts classic zod printed.
z.config(en());

export const siteSchema = z.object({
  id: z
    .string()
    .check(
      z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be lowercase letters, digits and dashes (e.g. 'oslo')"),
    ),
  name: z.string().check(z.minLength(1)),
  lat: z.number().check(z.gte(-90), z.lte(90)),
  lon: z.number().check(z.gte(-180), z.lte(180)),
  timezone: z.string().check(z.refine(isTimeZone, "must be an IANA time zone such as 'Europe/Oslo'")),
  country: z.string().check(z.regex(/^[A-Z]{2}$/, "must be an ISO 3166-1 alpha-2 code such as 'NO'")),
});

export type Site = z.infer<typeof siteSchema>;

const sitesFileSchema = z.array(siteSchema).check(z.minLength(1, "must list at least one site"));

export class SitesFileError extends Error {
  override name = "SitesFileError";
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Validates parsed JSON as a site list; `file` only labels the error messages. */
export function parseSites(data: unknown, file: string): Site[] {
  const parsed = sitesFileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const [index, field] = issue?.path ?? [];
    const entry = Array.isArray(data) && typeof index === "number" ? data[index] : undefined;
    const label =
      typeof index === "number"
        ? `entry ${index}${entry && typeof entry.id === "string" ? ` (id "${entry.id}")` : ""}, field "${String(field ?? "")}"`
        : "the top level";
    throw new SitesFileError(`${file}: ${label}: ${issue?.message}. Fix the file and run again.`);
  }
  const seen = new Set<string>();
  for (const [i, s] of parsed.data.entries()) {
    if (seen.has(s.id))
      throw new SitesFileError(
        `${file}: entry ${i} (id "${s.id}"), field "id": duplicate id. Ids must be unique.`,
      );
    seen.add(s.id);
  }
  return parsed.data;
}

/** Reads and validates a sites file. */
export async function loadSites(file: string): Promise<Site[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new SitesFileError(`${file}: cannot read the sites file (${(e as Error).message}).`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new SitesFileError(`${file}: not valid JSON (${(e as Error).message}).`);
  }
  return parseSites(data, file);
}
