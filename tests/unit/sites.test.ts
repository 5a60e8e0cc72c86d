import { describe, expect, it } from "vitest";
import { loadSites, parseSites, SitesFileError } from "#core/domain/sites.ts";

const oslo = { id: "oslo", name: "Oslo", lat: 59.91, lon: 10.75, timezone: "Europe/Oslo", country: "NO" };

describe("sites", () => {
  it("accepts the shipped sample file", async () => {
    const sites = await loadSites("config/sites.json");
    expect(sites.length).toBeGreaterThanOrEqual(20);
  });

  it.each([
    [{ ...oslo, lat: 91 }, 'entry 1 (id "oslo"), field "lat"'],
    [{ ...oslo, timezone: "Mars/Olympus" }, 'field "timezone"'],
    [{ ...oslo, country: "Norway" }, 'field "country"'],
    [{ ...oslo, id: "Oslo City" }, 'field "id"'],
    [{ ...oslo, name: undefined }, 'field "name"'],
  ])("names the entry and field of a bad site %#", (bad, expected) => {
    const data = [{ ...oslo, id: "bergen" }, bad];
    expect(() => parseSites(data, "sites.json")).toThrow(SitesFileError);
    expect(() => parseSites(data, "sites.json")).toThrow(expected);
  });

  it("rejects duplicate ids and an empty list", () => {
    expect(() => parseSites([oslo, oslo], "f.json")).toThrow('entry 1 (id "oslo"), field "id": duplicate id');
    expect(() => parseSites([], "f.json")).toThrow("at least one site");
  });

  it("says which file could not be read or parsed", async () => {
    await expect(loadSites("/nonexistent/sites.json")).rejects.toThrow(
      "/nonexistent/sites.json: cannot read",
    );
  });
});
