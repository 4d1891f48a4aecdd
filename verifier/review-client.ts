/** A small client for the review API, used by `xbus log`. */
export interface ReviewClient {
  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T>;
}

/** The real client also reads routes that answer text (a C2SP checkpoint or tlog-proof), as it came. */
export interface ReviewTextClient extends ReviewClient {
  text(path: string, query?: Record<string, string | number | undefined>): Promise<string>;
}

/** `from` says where the URL came from, for the error when nothing answers there (a stale dev.json). */
export function reviewClient(baseUrl: string, token: string, from?: string): ReviewTextClient {
  const base = new URL(baseUrl);
  if (base.protocol !== "http:" && base.protocol !== "https:")
    throw new Error(`review URL must be http(s): ${baseUrl}`);
  const call = async (path: string, query: Record<string, string | number | undefined>) => {
    const url = new URL(path, base);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    let res: Response;
    try {
      // No token: the public routes only (GET /checkpoint).
      res = await fetch(url, token === "" ? {} : { headers: { authorization: `Bearer ${token}` } });
    } catch (err) {
      // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a TLS error) is its cause.
      const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
      const why = typeof cause?.code === "string" ? cause.code : String(cause?.message ?? err);
      throw new Error(`cannot reach the review API at ${base.origin}${from ? ` (${from})` : ""}: ${why}`);
    }
    return { url, res };
  };
  const refusal = async (url: URL, res: Response) => {
    const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    return new Error(`${url.pathname}: HTTP ${res.status} ${body.error?.message ?? ""}`.trim());
  };
  return {
    async get<T>(path: string, query: Record<string, string | number | undefined> = {}) {
      const { url, res } = await call(path, query);
      if (!res.ok) throw await refusal(url, res);
      return (await res.json().catch(() => ({}))) as T;
    },
    async text(path: string, query: Record<string, string | number | undefined> = {}) {
      const { url, res } = await call(path, query);
      if (!res.ok) throw await refusal(url, res);
      return res.text();
    },
  };
}

export interface TreeHeadJson {
  log_id: string;
  tree_size: number;
  root_hash: string;
  timestamp: number;
  signature: string;
  public_key: string;
}

export interface EntryJson {
  index: number;
  leaf: string;
  leaf_hash: string;
  record: Record<string, unknown> | null;
}
