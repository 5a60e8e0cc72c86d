/** Whether a process is still running, for lock and temp-file owners recorded by pid. */

/** True while a process with this pid exists on this host (EPERM: it exists, owned by another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
