#!/usr/bin/env node
console.error('agent-trace CLI: not built yet');
process.exit(1);
