import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fsRawStore } from "#core/adapters/fs-raw-store.ts";
import { RawObjectExistsError } from "#core/adapters/raw-store-errors.ts";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "wdo-fsraw-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A pid that surely belongs to no running process: one that has just exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", ""]);
  return child.pid as number;
}

describe("fs raw store", () => {
  it("never overwrites a key: the first object stays, the second put fails with a named error", async () => {
    const store = fsRawStore(root);
    await store.put("a/b/batch-0001.json", "first");
    const second = store.put("a/b/batch-0001.json", "second");
    await expect(second).rejects.toBeInstanceOf(RawObjectExistsError);
    await expect(second).rejects.toThrow(/append-only/);
    expect(await store.get("a/b/batch-0001.json")).toBe("first");
    // The refused attempt leaves nothing behind.
    expect(await readdir(join(root, "a/b"))).toEqual(["batch-0001.json"]);
  });

  it("lands bytes as they are, append-only like text, and reads them back with maxBytes", async () => {
    const store = fsRawStore(root);
    const bytes = Uint8Array.from([0, 255, 80, 65, 82, 49, 0xc3, 0x28]); // not valid UTF-8
    await store.putBytes("archive/part-0001.parquet", bytes);
    await expect(store.putBytes("archive/part-0001.parquet", Uint8Array.from([1]))).rejects.toBeInstanceOf(
      RawObjectExistsError,
    );
    await expect(store.put("archive/part-0001.parquet", "text")).rejects.toBeInstanceOf(RawObjectExistsError);
    expect(await store.getBytes("archive/part-0001.parquet")).toEqual(bytes);
    await expect(store.getBytes("archive/part-0001.parquet", { maxBytes: 4 })).rejects.toThrow(/8 bytes/);
    expect(await readdir(join(root, "archive"))).toEqual(["part-0001.parquet"]);
  });

  it("keeps the first object when two puts of one key race", async () => {
    const store = fsRawStore(root);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.put("k/batch-0001.json", `body ${i}`)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const winner = results.findIndex((r) => r.status === "fulfilled");
    expect(await store.get("k/batch-0001.json")).toBe(`body ${winner}`);
    expect(await readdir(join(root, "k"))).toEqual(["batch-0001.json"]);
  });

  it("removes temp files left by a dead writer on the next put into that directory or a sibling", async () => {
    const dir = join(root, "source=x/hour=13");
    await mkdir(dir, { recursive: true });
    const dead = `batch-0001.json.${deadPid()}-0badc0de.tmp`;
    const legacy = `batch-0002.json.${deadPid()}.tmp`;
    const live = `batch-0003.json.${process.pid}-00c0ffee.tmp`; // a put in flight in this process
    const old = `batch-0004.json.${process.pid}-0000abcd.tmp`;
    for (const name of [dead, legacy, live, old]) await writeFile(join(dir, name), "{partial");
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    await utimes(join(dir, old), twoHoursAgo, twoHoursAgo);
    // An earlier run of the same hour, killed mid-put: a sibling of the directory written into.
    const sibling = join(root, "source=x/hour=12");
    await mkdir(sibling, { recursive: true });
    await writeFile(join(sibling, dead), "{partial");
    // Farther away: not swept by this put.
    const other = join(root, "source=y/hour=13");
    await mkdir(other, { recursive: true });
    await writeFile(join(other, dead), "{partial");

    const store = fsRawStore(root);
    expect(await store.list("source=x/")).toEqual([]);
    await store.put("source=x/hour=13/batch-0005.json", "{}");

    expect((await readdir(dir)).sort()).toEqual(["batch-0005.json", live].sort());
    expect(await readFile(join(dir, live), "utf8")).toBe("{partial");
    expect(await readdir(sibling)).toEqual([]);
    expect(await readdir(other)).toEqual([dead]);
  });

  it("refuses keys that escape the store", async () => {
    await expect(fsRawStore(root).put("../outside.json", "{}")).rejects.toThrow(/escapes/);
  });
});
