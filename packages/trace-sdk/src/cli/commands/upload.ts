import type { Command } from 'commander';
import type { CliContext } from '../context.js';
// TEMP placeholder while the module it needs is built.
export function addUploadCommand(_program: Command, _ctx: CliContext): void {}
