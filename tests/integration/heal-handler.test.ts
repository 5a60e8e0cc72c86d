/**
 * functions/heal.ts as Lambda runs it: env validated at import, the heal rule's `{ "days": N }` in, a
 * small summary out, and GapsRemaining (0 when every gap was filled) in the EMF it prints.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { InvalidEventError } from "#core/domain/events.ts";
import { type Simulator, startSimulator } from "../../simulator/server.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

let db: TestDatabase;
let sim: Simulator;
let rawDir: string;
let heal: typeof import("#functions/heal.ts");

// Three sites: a day of them (72 rows) stays under the bronze COPY threshold, which the embedded
// PGlite's wire server does not serve (the handler sees it as any Postgres URL).
const SITES = [
  { id: "oslo", name: "Oslo", lat: 59.91, lon: 10.75, timezone: "Europe/Oslo", country: "NO" },
  { id: "lima", name: "Lima", lat: -12.05, lon: -77.04, timezone: "America/Lima", country: "PE" },
  { id: "perth", name: "Perth", lat: -31.95, lon: 115.86, timezone: "Australia/Perth", country: "AU" },
];

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await startSimulator();
  rawDir = await mkdtemp(join(tmpdir(), "wdo-heal-handler-"));
  await writeFile(join(rawDir, "sites.json"), JSON.stringify(SITES));
  vi.stubEnv("DATABASE_URL", db.url);
  vi.stubEnv("RAW_STORE", join(rawDir, "raw"));
  vi.stubEnv("WEATHER_SOURCE", "simulator");
  vi.stubEnv("SIMULATOR_URL", sim.url);
  vi.stubEnv("SITES_FILE", join(rawDir, "sites.json"));
  vi.stubEnv("POWERTOOLS_SERVICE_NAME", "weather-dataops-test");
  heal = await import("#functions/heal.ts");
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await sim?.close();
  await db?.destroy();
  await rm(rawDir, { recursive: true, force: true });
});

function emfOf(lines: string[]) {
  return lines
    .flatMap((l) => l.split("\n"))
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l));
}

describe("heal handler", () => {
  it("heals the rule's window and publishes GapsRemaining 0 through the middy-wrapped handler", async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    let result: Awaited<ReturnType<typeof heal.lambdaHandler>>;
    try {
      const context = {
        functionName: "heal",
        awsRequestId: "req-1",
        getRemainingTimeInMillis: () => 600_000,
      };
      result = await heal.handler({ days: 1 }, context as unknown as Context);
    } finally {
      spy.mockRestore();
    }
    expect(result).toMatchObject({
      siteHoursMissingBefore: 24 * SITES.length,
      siteHoursFilled: 24 * SITES.length,
      gapsRemaining: 0,
      transform: "succeeded",
      failed: false,
    });
    const doc = emfOf(lines).find((e) => "GapsRemaining" in e);
    expect(doc).toMatchObject({
      GapsRemaining: 0,
      SiteHoursHealed: 24 * SITES.length,
      service: "weather-dataops-test",
    });
  });

  it("a second run finds nothing to do", async () => {
    const result = await heal.lambdaHandler({ days: 1 });
    expect(result).toMatchObject({
      siteHoursMissingBefore: 0,
      requests: 0,
      transform: "none",
      gapsRemaining: 0,
    });
  });

  it.each([{ days: 0 }, { days: 93 }, { days: "7" }])("rejects %j naming the field", async (event) => {
    await expect(heal.lambdaHandler(event)).rejects.toThrow(InvalidEventError);
    await expect(heal.lambdaHandler(event)).rejects.toThrow(/days/);
  });
});
