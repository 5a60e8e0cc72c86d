/** A small client for Superset's REST API: JWT login, CSRF token, JSON GET/POST. */

/** Superset answered an API call with an error status; the message carries its body. */
export class SupersetApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "SupersetApiError";
  }
}

export interface SupersetApi {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
}

/** Logs in as `username` (database auth) and returns a client bound to that session. */
export async function supersetLogin(base: string, username: string, password: string): Promise<SupersetApi> {
  const login = await fetch(`${base}/api/v1/security/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password, provider: "db", refresh: false }),
  });
  if (!login.ok)
    throw new SupersetApiError(login.status, `login as ${username} failed: ${await login.text()}`);
  const { access_token: token } = (await login.json()) as { access_token: string };
  const auth = { authorization: `Bearer ${token}` };

  // POSTs need a CSRF token bound to the session cookie that came with it.
  const csrf = await fetch(`${base}/api/v1/security/csrf_token/`, { headers: auth });
  if (!csrf.ok) throw new SupersetApiError(csrf.status, `csrf token: ${await csrf.text()}`);
  const { result: csrfToken } = (await csrf.json()) as { result: string };
  const cookie = csrf.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...auth,
        cookie,
        "x-csrftoken": csrfToken,
        referer: base,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    if (!r.ok)
      throw new SupersetApiError(r.status, `${method} ${path} → ${r.status}: ${text.slice(0, 2000)}`);
    return JSON.parse(text) as T;
  }
  return {
    get: (path) => call("GET", path),
    post: (path, body) => call("POST", path, body),
  };
}
