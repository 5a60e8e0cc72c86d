import { describe, expect, it, vi } from "vitest";
import { benchOptions } from "../../bench/lib.ts";

const SPEC = {
  sites: { default: 1000, help: "sites of every history" },
  "shard-size": { default: 12500, help: "sites per shard" },
  latency: { default: 50, min: 0, help: "latency per request, ms" },
};

class Exit extends Error {
  constructor(readonly code: number | undefined) {
    super(`exit ${code}`);
  }
}

/** Runs benchOptions on argv; returns its values, or the exit code and what it printed. */
function run(args: string[]) {
  const printed: string[] = [];
  const capture = (chunk: unknown) => {
    printed.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, "write").mockImplementation(capture);
  vi.spyOn(process.stderr, "write").mockImplementation(capture);
  vi.spyOn(process, "exit").mockImplementation((code) => {
    throw new Exit(code === undefined || code === null ? undefined : Number(code));
  });
  try {
    return { values: benchOptions("demo", "A demo bench.", SPEC, ["node", "bench/demo.ts", ...args]) };
  } catch (e) {
    if (e instanceof Exit) return { exit: e.code, printed: printed.join("") };
    throw e;
  } finally {
    vi.restoreAllMocks();
  }
}

describe("benchOptions (every bench's flags)", () => {
  it("returns the defaults, and integers for the flags given, keyed by flag name", () => {
    expect(run([]).values).toEqual({ sites: 1000, "shard-size": 12500, latency: 50 });
    expect(run(["--sites", "7", "--shard-size", "3", "--latency", "0"]).values).toEqual({
      sites: 7,
      "shard-size": 3,
      latency: 0,
    });
  });

  it("--help prints the usage with every option and its default, and exits 0", () => {
    const r = run(["--help"]);
    expect(r.exit).toBe(0);
    expect(r.printed).toContain("npm run bench:demo --");
    expect(r.printed).toContain("A demo bench.");
    expect(r.printed).toMatch(/--shard-size <n>\s+sites per shard \(default: 12500\)/);
  });

  it("a value that is not an integer at least the minimum names the option and exits 2", () => {
    for (const args of [
      ["--sites", "abc"],
      ["--sites", "0"],
      ["--sites", "1.5"],
      ["--latency", "-1"],
    ]) {
      const r = run(args);
      expect(r.exit, args.join(" ")).toBe(2);
      expect(r.printed).toContain(`option '${args[0]} <n>' argument '${args[1]}' is invalid`);
    }
  });

  it("an unknown option or a stray argument exits 2 before anything runs", () => {
    const unknown = run(["--site", "5"]);
    expect(unknown.exit).toBe(2);
    expect(unknown.printed).toContain("unknown option '--site'");
    expect(run(["1000"]).exit).toBe(2);
  });
});
