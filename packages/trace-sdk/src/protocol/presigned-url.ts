/**
 * Reading a presigned S3 URL without trusting it: when it expires (SigV4 `X-Amz-Date` +
 * `X-Amz-Expires`, or SigV2 `Expires`), which object it names (path-style or virtual-hosted),
 * and whether it is an acceptable upload target at all (https, or http on loopback).
 *
 * @packageDocumentation
 */

/** Parses SigV4's basic ISO 8601 timestamp `YYYYMMDDTHHMMSSZ` into epoch ms. */
function parseAmzDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(ms) ? undefined : ms;
}

function queryParam(url: URL, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of url.searchParams) if (key.toLowerCase() === lower) return value;
  return undefined;
}

/**
 * When a presigned URL stops working, in epoch ms, or `undefined` when the URL does not say
 * (not presigned, or an unknown scheme).
 */
export function presignedUrlExpiresAt(url: URL): number | undefined {
  const date = queryParam(url, 'X-Amz-Date');
  const expires = queryParam(url, 'X-Amz-Expires');
  if (date !== undefined && expires !== undefined && /^\d+$/.test(expires)) {
    const signedAt = parseAmzDate(date);
    return signedAt === undefined ? undefined : signedAt + Number(expires) * 1000;
  }
  // SigV2 query auth: Expires is an absolute epoch second.
  const v2 = queryParam(url, 'Expires');
  if (v2 !== undefined && /^\d+$/.test(v2) && queryParam(url, 'Signature') !== undefined)
    return Number(v2) * 1000;
  return undefined;
}

/**
 * True when the URL has expired, or will within `marginMs` (a request that starts at the
 * very end of a URL's life is refused by S3 anyway).
 */
export function isPresignedUrlExpired(url: URL, now: number = Date.now(), marginMs = 1000): boolean {
  const expiresAt = presignedUrlExpiresAt(url);
  return expiresAt !== undefined && now + marginMs >= expiresAt;
}

function decodePath(pathname: string): string | undefined {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
}

// Virtual-hosted AWS S3 hosts name the bucket: <bucket>.s3.amazonaws.com,
// <bucket>.s3.<region>.amazonaws.com, <bucket>.s3-<region>.amazonaws.com, <bucket>.s3-accelerate...,
// <bucket>.s3.dualstack..., S3 Express <bucket>.s3express-<zone>.<region>.amazonaws.com.
// Greedy so that a bucket name containing ".s3." still resolves to the full name.
const VIRTUAL_HOSTED = /^(.+)\.s3(?:express-[a-z0-9-]+)?[.-][a-z0-9.-]*amazonaws\.com(?:\.cn)?$/i;
// Path-style AWS S3 hosts name no bucket: s3.amazonaws.com, s3.<region>.amazonaws.com,
// s3-<region>.amazonaws.com, s3.dualstack.<region>..., s3-fips...
const PATH_STYLE = /^s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$/i;
// An IP literal cannot carry a bucket name, so such an endpoint is path-style.
const IP_LITERAL = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/i;

/** How a host addresses buckets: in the host name, in the first path segment, or unknown (custom endpoints). */
function addressingOf(hostname: string): { style: 'virtual'; bucket: string } | { style: 'path' | 'either' } {
  const bucket = VIRTUAL_HOSTED.exec(hostname)?.[1];
  if (bucket !== undefined) return { style: 'virtual', bucket };
  if (PATH_STYLE.test(hostname) || IP_LITERAL.test(hostname)) return { style: 'path' };
  return { style: 'either' };
}

/**
 * Which object a URL writes, checked against the expected key. The decoded path (S3 decodes it
 * once, as here) must be exactly the key, below one bucket segment for path-style addressing.
 * For AWS hosts the style is known from the host, so a virtual-hosted URL with an extra segment
 * (`/other/traces/...`, which S3 stores as the key `other/traces/...`) or a path-style URL
 * without its bucket segment is refused. Custom endpoints (MinIO, a local S3) accept either.
 * Returns `undefined` when the URL names any other object.
 */
export function urlObjectLocation(url: URL, key: string): { bucket?: string } | undefined {
  const path = decodePath(url.pathname);
  if (path === undefined) return undefined;
  const suffix = `/${key}`;
  if (!path.endsWith(suffix)) return undefined;
  const prefix = path.slice(0, path.length - suffix.length);
  const addressing = addressingOf(url.hostname);
  if (prefix === '') {
    if (addressing.style === 'path') return undefined;
    return addressing.style === 'virtual' ? { bucket: addressing.bucket } : {};
  }
  if (addressing.style === 'virtual') return undefined;
  // One segment only: "/bucket". Anything deeper would write a different object.
  if (!/^\/[^/]+$/.test(prefix)) return undefined;
  return { bucket: prefix.slice(1) };
}

/** True for hosts that never leave the machine: `localhost`, 127.0.0.0/8, `::1`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/**
 * Why `text` is not an acceptable upload URL, or `undefined` when it is: it must parse, and be
 * `https:` (plain `http:` only on a loopback host). The reason never repeats the URL.
 */
export function uploadUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a valid URL';
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    return isLoopbackHost(url.hostname)
      ? undefined
      : 'must use https (http is allowed only for loopback hosts)';
  }
  return `must be an https URL, not ${url.protocol}`;
}
