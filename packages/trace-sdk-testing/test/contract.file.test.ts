import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileTransport } from '@agent-trace/trace-sdk';
import { describeTransportContract, unsupported } from '../src/contract/index.js';

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

// Declared up front (the options), so these tests are registered skipped without a local S3.
describeTransportContract(
  'file',
  (ctx) => {
    const dir = join(ctx.tmpDir, 'traces-out');
    return {
      transport: fileTransport({ dir }),
      read: (key) => readFile(join(dir, ...key.split('/'))).catch(() => undefined),
      list: async (prefix = '') => (await listFiles(dir)).filter((key) => key.startsWith(prefix)),
    };
  },
  {
    capabilities: {
      networkFaults: unsupported('writes to the local filesystem: there is no network to fault'),
      refreshOnExpiry: unsupported('no URL or credential to expire'),
      contentHeaders: unsupported('files carry no Content-Type or Content-Encoding'),
      userScoped: unsupported(
        'a local development transport with no notion of users: it writes the key the artifact names',
      ),
      attribution: unsupported('files carry no object metadata'),
    },
  },
);
