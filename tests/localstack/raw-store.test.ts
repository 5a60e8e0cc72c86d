/**
 * The S3 raw store against LocalStack's S3 (the unit tests use a fake client): binary objects (the
 * archive's Parquet parts) come back byte for byte, and raw stays append-only for bytes and text alike
 * through S3's conditional put.
 */
import { randomBytes } from "node:crypto";
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawObjectExistsError, RawObjectTooLargeError } from "#core/adapters/raw-store-errors.ts";
import { s3RawStore } from "#core/adapters/s3-raw-store.ts";
import { clientConfig } from "./helpers/localstack.ts";

const bucket = `weather-raw-store-${randomBytes(4).toString("hex")}`;
const client = new S3Client({ ...clientConfig, forcePathStyle: true });
const store = s3RawStore(client, `s3://${bucket}/raw`);
const written: string[] = [];

beforeAll(async () => {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(async () => {
  for (const key of written)
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `raw/${key}` }));
  await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
});

describe("the S3 raw store on LocalStack", () => {
  it("returns a binary object byte for byte, every byte value included", async () => {
    const body = new Uint8Array(4096).map((_, i) => i % 256);
    const key = "archive/bronze/month=2025-11/t1/part-0001.parquet";
    await store.putBytes(key, body);
    written.push(key);
    expect(Buffer.from(await store.getBytes(key)).equals(Buffer.from(body))).toBe(true);
    expect(await store.list("archive/bronze/")).toEqual([key]);
    await expect(store.getBytes(key, { maxBytes: 100 })).rejects.toBeInstanceOf(RawObjectTooLargeError);
  });

  it("never replaces an object: a second put of the key, bytes or text, is refused", async () => {
    const key = "archive/bronze/month=2025-11/t1/manifest.json";
    await store.put(key, '{"rows":1}');
    written.push(key);
    await expect(store.putBytes(key, new Uint8Array([1, 2, 3]))).rejects.toBeInstanceOf(RawObjectExistsError);
    await expect(store.put(key, '{"rows":2}')).rejects.toBeInstanceOf(RawObjectExistsError);
    expect(await store.get(key)).toBe('{"rows":1}');
  });
});
