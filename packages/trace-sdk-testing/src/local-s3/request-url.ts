/**
 * Reading a local S3 request's URL: its query, and the path as it is recorded, without the
 * signature, credential and session token of a presigned URL.
 *
 * @packageDocumentation
 */

export const HIDDEN_QUERY = new Set(['x-amz-signature', 'x-amz-credential', 'x-amz-security-token']);
export const HIDDEN_HEADERS = new Set(['authorization', 'x-amz-security-token']);

export function parseQuery(raw: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  if (raw === '') return query;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    const existing = query[name];
    if (existing === undefined) query[name] = value;
    else query[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return query;
}

export function publicPath(rawPath: string, rawQuery: string): string {
  const kept = rawQuery.split('&').filter((pair) => {
    if (pair === '') return false;
    const eq = pair.indexOf('=');
    return !HIDDEN_QUERY.has((eq < 0 ? pair : pair.slice(0, eq)).toLowerCase());
  });
  return kept.length > 0 ? `${rawPath}?${kept.join('&')}` : rawPath;
}
