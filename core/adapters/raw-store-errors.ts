/** Errors every RawStore adapter raises the same way, so use cases can tell them apart. */

/**
 * A put named a key that already holds an object. Raw is append-only — the first response landed is
 * the evidence bronze points at — so the existing object is kept and this put fails.
 */
export class RawObjectExistsError extends Error {
  override name = "RawObjectExistsError";
  constructor(
    readonly location: string,
    readonly key: string,
  ) {
    super(
      `Raw object ${key} already exists in ${location} and raw is append-only, so it was kept and this write ` +
        "refused. Every attempt must land under a key of its own: report this as a bug in key naming.",
    );
  }
}

/** An object larger than the reader allows (`RAW_MAX_OBJECT_BYTES`): refused before its body is read. */
export class RawObjectTooLargeError extends Error {
  override name = "RawObjectTooLargeError";
  constructor(
    readonly location: string,
    readonly key: string,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(
      `Raw object ${key} in ${location} is ${bytes} bytes, over the ${maxBytes} bytes a reader takes ` +
        "(RAW_MAX_OBJECT_BYTES); it was not read. Inspect it by hand; raise the limit only if the machine has the memory.",
    );
  }
}
