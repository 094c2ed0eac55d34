/**
 * Pages of a paginated list (§7.1): the server's `Link` header names the newer page (`rel="previous"`,
 * `from=`) and the older page (`rel="next"`, `to=`); the UI keeps only those bounds and asks again with them.
 */
export interface PageBound {
  from?: number;
  to?: number;
  limit?: number;
}

export interface PageLinks {
  /** Newer items. */
  previous?: PageBound;
  /** Older items. */
  next?: PageBound;
}

export function parseLinkHeader(header: string | null): PageLinks {
  const links: PageLinks = {};
  if (!header) return links;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /<([^>]*)>\s*;\s*rel="?([a-z]+)"?/i.exec(part.trim());
    if (!match) continue;
    const rel = match[2]?.toLowerCase();
    if (rel !== 'next' && rel !== 'previous') continue;
    let url: URL;
    try {
      url = new URL(match[1] ?? '', 'http://placeholder.invalid');
    } catch {
      continue;
    }
    const bound: PageBound = {};
    for (const key of ['from', 'to', 'limit'] as const) {
      const value = url.searchParams.get(key);
      if (value !== null && /^\d+$/.test(value)) bound[key] = Number(value);
    }
    links[rel] = bound;
  }
  return links;
}

/** The query string for a page bound (`?to=3&limit=2`), empty for the first page. */
export function pageQuery(bound: PageBound | undefined, limit: number): string {
  const params = new URLSearchParams();
  if (bound?.from !== undefined) params.set('from', String(bound.from));
  if (bound?.to !== undefined) params.set('to', String(bound.to));
  params.set('limit', String(bound?.limit ?? limit));
  return `?${params.toString()}`;
}
