/**
 * The AWS SDK clients and Powertools packages each move as one: mixed versions bundle two copies of
 * their shared internals (@smithy/*, @aws-sdk/core, Powertools commons) into every Lambda.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const pkg = JSON.parse(readFileSync("package.json", "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync("package-lock.json", "utf8")) as {
  packages: Record<string, { version: string; dependencies?: Record<string, string> }>;
};
const all = { ...pkg.dependencies, ...pkg.devDependencies };
const versionsOf = (prefix: string) =>
  Object.fromEntries(Object.entries(all).filter(([name]) => name.startsWith(prefix)));

describe("dependency versions", () => {
  it("pins every @aws-sdk client to one exact version", () => {
    const clients = versionsOf("@aws-sdk/client-");
    expect(Object.keys(clients).length).toBeGreaterThan(3);
    expect(new Set(Object.values(clients)).size).toBe(1);
    for (const [name, version] of Object.entries(clients)) {
      expect(version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(lock.packages[`node_modules/${name}`]?.version).toBe(version);
    }
  });

  it("pins every Powertools package to one exact version", () => {
    const powertools = versionsOf("@aws-lambda-powertools/");
    expect(Object.keys(powertools).length).toBeGreaterThan(2);
    expect(new Set(Object.values(powertools)).size).toBe(1);
    // One commons for all of them: no package carries a nested copy of its own.
    const commons = Object.keys(lock.packages).filter((p) => p.endsWith("/@aws-lambda-powertools/commons"));
    expect(commons).toEqual(["node_modules/@aws-lambda-powertools/commons"]);
  });

  it("bundles the same environment credential provider the clients' default chain uses", () => {
    // functions/shared/lambda-credentials.ts imports it directly; a nested copy under our clients or
    // their credential chain would mean two versions in one bundle.
    const ours = [...Object.keys(versionsOf("@aws-sdk/client-")), "@aws-sdk/credential-provider-node"];
    const nested = Object.keys(lock.packages).filter((p) =>
      ours.some((name) => p.startsWith(`node_modules/${name}/node_modules/@aws-sdk/credential-provider-env`)),
    );
    expect(nested).toEqual([]);
    expect(lock.packages["node_modules/@aws-sdk/credential-provider-env"]?.version).toBe(
      pkg.dependencies["@aws-sdk/credential-provider-env"],
    );
  });
});
