// prepack of @agent-trace/trace-sdk: ships the docs the package's own messages point to (the
// legacy transport's deprecation warning names docs/migration.md "in @agent-trace/trace-sdk").
// The repository's docs/ stay the single source; packages/trace-sdk/docs is a build output.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const repoDocs = new URL('../docs/', import.meta.url);
const target = join(process.cwd(), 'docs');
mkdirSync(target, { recursive: true });
for (const name of [
  'migration.md',
  'transports.md',
  'operations.md',
  'event-schema.md',
  'security-model.md',
]) {
  copyFileSync(new URL(name, repoDocs), join(target, name));
}
