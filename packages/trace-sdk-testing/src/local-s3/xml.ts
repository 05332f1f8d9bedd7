/**
 * The XML S3 speaks: rendering response documents and error bodies, and reading the one request
 * body the local server needs (`CompleteMultipartUpload`). Tiny on purpose: S3's documents are
 * flat, so a string builder beats a dependency.
 *
 * @packageDocumentation
 */

const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Escapes text for an XML element body or attribute. */
export function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', "'": 'apos', '"': 'quot' }[c]};`,
  );
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

/** Whether a code point may appear in an XML 1.0 document (its `Char` production). */
function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/**
 * Decodes XML character and entity references, or returns `undefined` when the text is not
 * well-formed XML (a bare `&`, an unknown entity, a reference to a code point XML forbids), so the
 * caller answers `MalformedXML` as S3 does instead of throwing.
 */
export function unescapeXml(text: string): string | undefined {
  let malformed = false;
  const decoded = text.replace(/&([^;&]*);?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) {
      malformed = true;
      return '';
    }
    const named = NAMED_ENTITIES[name];
    if (named !== undefined) return named;
    const m = /^#(?:x([0-9a-fA-F]{1,8})|([0-9]{1,10}))$/.exec(name);
    const cp = m === null ? Number.NaN : m[1] !== undefined ? Number.parseInt(m[1], 16) : Number(m[2]);
    if (!isXmlChar(cp)) {
      malformed = true;
      return '';
    }
    return String.fromCodePoint(cp);
  });
  return malformed ? undefined : decoded;
}

/** A child element: text content, nested children, or nothing (omitted). */
export type XmlContent = string | number | boolean | XmlChild[] | undefined;
/** One `[name, content]` pair; order is kept, names may repeat. */
export type XmlChild = readonly [name: string, content: XmlContent];

function render(children: readonly XmlChild[]): string {
  let out = '';
  for (const [name, content] of children) {
    if (content === undefined) continue;
    const inner = Array.isArray(content) ? render(content) : escapeXml(String(content));
    out += `<${name}>${inner}</${name}>`;
  }
  return out;
}

/** A complete S3 response document with the S3 namespace on its root element. */
export function xmlDocument(root: string, children: readonly XmlChild[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${S3_NAMESPACE}">${render(children)}</${root}>`;
}

/** The body of every S3 error: `<Error><Code/><Message/>...<RequestId/></Error>`. */
export function errorDocument(
  code: string,
  message: string,
  requestId: string,
  extra: Readonly<Record<string, string>> = {},
): string {
  const children: XmlChild[] = [
    ['Code', code],
    ['Message', message],
  ];
  for (const [name, value] of Object.entries(extra)) children.push([name, value]);
  children.push(['RequestId', requestId], ['HostId', requestId]);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${render(children)}</Error>`;
}

/** One `<Part>` of a `CompleteMultipartUpload` request. */
export interface CompletedPartXml {
  readonly partNumber: number;
  readonly etag: string;
}

/**
 * Reads a `CompleteMultipartUpload` body, or returns `undefined` when it is not one (the caller
 * answers `MalformedXML`).
 */
export function parseCompleteMultipartUpload(body: string): CompletedPartXml[] | undefined {
  if (!/<CompleteMultipartUpload[\s>]/.test(body)) return undefined;
  const parts: CompletedPartXml[] = [];
  for (const match of body.matchAll(/<Part>([\s\S]*?)<\/Part>/g)) {
    const inner = match[1] ?? '';
    const partNumber = /<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(inner)?.[1];
    const etag = /<ETag>([\s\S]*?)<\/ETag>/.exec(inner)?.[1];
    const decoded = etag === undefined ? undefined : unescapeXml(etag);
    if (partNumber === undefined || decoded === undefined) return undefined;
    parts.push({ partNumber: Number(partNumber), etag: decoded.trim() });
  }
  return parts;
}
