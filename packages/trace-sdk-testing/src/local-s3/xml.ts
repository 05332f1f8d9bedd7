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

function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|amp|apos|quot|#\d+|#x[0-9a-fA-F]+);/g, (_, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number.parseInt(name.slice(1), 10));
    return { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' }[name] ?? '';
  });
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
    if (partNumber === undefined || etag === undefined) return undefined;
    parts.push({ partNumber: Number(partNumber), etag: unescapeXml(etag).trim() });
  }
  return parts;
}
