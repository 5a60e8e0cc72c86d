import type { S3Client } from "@aws-sdk/client-s3";
import { PutObjectCommand, S3ServiceException } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { RawObjectExistsError, RawObjectTooLargeError } from "#core/adapters/raw-store-errors.ts";
import { s3RawStore } from "#core/adapters/s3-raw-store.ts";

/** A client that records the commands it is sent and answers with `reply`. */
function fakeClient(reply: () => unknown) {
  const sent: unknown[] = [];
  const client = {
    send: async (cmd: unknown) => {
      sent.push(cmd);
      return reply();
    },
  } as unknown as S3Client;
  return { client, sent };
}

describe("s3 raw store", () => {
  it("puts conditionally, so S3 itself refuses to replace an existing key", async () => {
    const { client, sent } = fakeClient(() => ({}));
    await s3RawStore(client, "s3://bucket/raw").put("k/batch-0001.json", "{}");
    expect(sent).toHaveLength(1);
    expect(sent[0]).toBeInstanceOf(PutObjectCommand);
    expect((sent[0] as PutObjectCommand).input).toEqual({
      Bucket: "bucket",
      Key: "raw/k/batch-0001.json",
      Body: "{}",
      ContentType: "application/json",
      IfNoneMatch: "*",
    });
  });

  it("turns S3's 412 Precondition Failed into RawObjectExistsError", async () => {
    const preconditionFailed = new S3ServiceException({
      name: "PreconditionFailed",
      $fault: "client",
      $metadata: { httpStatusCode: 412 },
      message: "At least one of the pre-conditions you specified did not hold",
    });
    const { client } = fakeClient(() => {
      throw preconditionFailed;
    });
    const put = s3RawStore(client, "s3://bucket/raw").put("k/batch-0001.json", "{}");
    await expect(put).rejects.toBeInstanceOf(RawObjectExistsError);
    await expect(put).rejects.toThrow("k/batch-0001.json already exists in s3://bucket/raw");
  });

  it("passes other errors through", async () => {
    const { client } = fakeClient(() => {
      throw new S3ServiceException({
        name: "AccessDenied",
        $fault: "client",
        $metadata: { httpStatusCode: 403 },
      });
    });
    await expect(s3RawStore(client, "s3://bucket").put("k", "{}")).rejects.toThrow(
      expect.objectContaining({ name: "AccessDenied" }),
    );
  });

  it("refuses an object over maxBytes from its Content-Length, without reading the body", async () => {
    let read = false;
    let destroyed = false;
    const body = {
      transformToString: async () => {
        read = true;
        return "";
      },
      destroy: () => {
        destroyed = true;
      },
    };
    const { client } = fakeClient(() => ({ Body: body, ContentLength: 5_000_000 }));
    const store = s3RawStore(client, "s3://bucket/raw");
    await expect(store.get("k/batch-0001.json", { maxBytes: 1_000_000 })).rejects.toBeInstanceOf(
      RawObjectTooLargeError,
    );
    expect({ read, destroyed }).toEqual({ read: false, destroyed: true });
    await expect(store.get("k/batch-0001.json", { maxBytes: 10_000_000 })).resolves.toBe("");
  });

  it("puts bytes conditionally too, and reads them back as bytes", async () => {
    const bytes = Uint8Array.from([0, 255, 1]);
    const { client, sent } = fakeClient(() => ({
      Body: { transformToByteArray: async () => bytes },
      ContentLength: bytes.length,
    }));
    const store = s3RawStore(client, "s3://bucket/raw");
    await store.putBytes("archive/part-0001.parquet", bytes);
    expect((sent[0] as PutObjectCommand).input).toEqual({
      Bucket: "bucket",
      Key: "raw/archive/part-0001.parquet",
      Body: bytes,
      ContentType: "application/octet-stream",
      IfNoneMatch: "*",
    });
    await expect(store.getBytes("archive/part-0001.parquet")).resolves.toEqual(bytes);
    await expect(store.getBytes("archive/part-0001.parquet", { maxBytes: 2 })).rejects.toBeInstanceOf(
      RawObjectTooLargeError,
    );
  });
});
