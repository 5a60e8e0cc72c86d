/**
 * A per-container resource, created on first use and reused while the container lives. A failed
 * creation is forgotten, so the next invocation tries again (a secret fixed after a bad deploy takes
 * effect without waiting for new containers).
 */
export function lazy<T>(create: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= create().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
