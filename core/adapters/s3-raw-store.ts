/** Raw objects in S3 (or LocalStack S3 through an endpoint override). */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { Config } from "../config/env.ts";
import type { RawStore } from "../ports.ts";
import { sharedClient } from "./aws-clients.ts";
import { RawObjectExistsError, RawObjectTooLargeError } from "./raw-store-errors.ts";

/** The process's S3 client for `config` (see sharedClient). */
export function s3Client(config: Config): S3Client {
  // LocalStack serves buckets by path, not by virtual host.
  return sharedClient(
    "s3",
    config,
    (settings) => new S3Client({ ...settings, forcePathStyle: Boolean(settings.endpoint) }),
  );
}

/** Parses `s3://bucket/prefix` into its parts. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m?.[1]) throw new Error(`Not an S3 URL: ${url} (expected s3://bucket[/prefix])`);
  const prefix = m[2] ? m[2].replace(/\/?$/, "/") : "";
  return { bucket: m[1], prefix };
}

export function s3RawStore(client: S3Client, url: string): RawStore {
  const { bucket, prefix } = parseS3Url(url);
  // Conditional write: S3 refuses (412) to replace an existing key, so raw stays append-only even with
  // two writers racing for the same key.
  const write = async (key: string, body: string | Uint8Array, contentType: string): Promise<void> => {
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: prefix + key,
          Body: body,
          ContentType: contentType,
          IfNoneMatch: "*",
        }),
      );
    } catch (e) {
      if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412)
        throw new RawObjectExistsError(url, key);
      throw e;
    }
  };
  const read = async (key: string, opts: { maxBytes?: number }) => {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + key }));
    if (!out.Body) throw new Error(`Empty raw object s3://${bucket}/${prefix}${key}`);
    const size = out.ContentLength ?? 0;
    if (opts.maxBytes !== undefined && size > opts.maxBytes) {
      // Release the connection without reading the body.
      (out.Body as { destroy?: () => void }).destroy?.();
      throw new RawObjectTooLargeError(url, key, size, opts.maxBytes);
    }
    return out.Body;
  };
  return {
    location: url,
    put: (key, body) => write(key, body, "application/json"),
    putBytes: (key, body) => write(key, body, "application/octet-stream"),
    async get(key, opts = {}) {
      return (await read(key, opts)).transformToString("utf8");
    },
    async getBytes(key, opts = {}) {
      return (await read(key, opts)).transformToByteArray();
    },
    async list(keyPrefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix + keyPrefix, ContinuationToken: token }),
        );
        for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key.slice(prefix.length));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    },
  };
}
