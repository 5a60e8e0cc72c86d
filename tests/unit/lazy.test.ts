import { describe, expect, it } from "vitest";
import { lazy } from "#functions/shared/lazy.ts";

describe("lazy per-container resources", () => {
  it("creates once and reuses", async () => {
    let n = 0;
    const get = lazy(async () => ++n);
    expect(await get()).toBe(1);
    expect(await get()).toBe(1);
  });

  it("forgets a failed creation so the next call retries", async () => {
    let n = 0;
    const get = lazy(async () => {
      n += 1;
      if (n === 1) throw new Error("secret not readable yet");
      return n;
    });
    await expect(get()).rejects.toThrow("secret not readable yet");
    expect(await get()).toBe(2);
  });
});
