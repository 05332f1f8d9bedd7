// Placeholder until the transports land: shows the key an agent's trace will be stored under.
import { traceKey } from '@agent-trace/trace-sdk';

console.log('agent-trace demo (placeholder: transports not built yet)');
console.log('trace key:', traceKey({ userId: 'demo-user', taskId: '01JDEMO0000000000000000000' }));
