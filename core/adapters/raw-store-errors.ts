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
