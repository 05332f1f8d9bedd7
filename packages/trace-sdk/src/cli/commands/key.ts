/**
 * `agent-trace key <user> <task>`: prints the object key, exactly as the SDK builds it.
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import { traceKey } from '../../key.js';
import type { CliContext } from '../context.js';
import { write } from '../io.js';

/** Prints `traces/<user>/<task>.jsonl.gz`; invalid ids throw `TraceKeyError` (exit 2). */
export async function runKey(ctx: CliContext, userId: string, taskId: string): Promise<void> {
  await write(ctx.io.stdout, `${traceKey({ userId, taskId })}\n`);
}

/** Adds the `key` command to `program`. */
export function addKeyCommand(program: Command, ctx: CliContext): void {
  program
    .command('key')
    .description('print the object key of a trace: traces/<user>/<task>.jsonl.gz')
    .argument('<user>', 'user id (e.g. a Cognito sub)')
    .argument('<task>', 'task id (e.g. a ULID)')
    .action((user: string, task: string) => runKey(ctx, user, task));
}
