/**
 * A pass-through wrapper around the Claude Agent SDK's `query()` result: the caller iterates the
 * same messages (same objects, same order, same errors) and keeps every `Query` method
 * (`interrupt()`, `setPermissionMode()`, ...), while each message is recorded on the side.
 *
 * @packageDocumentation
 */
import type { AdapterOptions, TraceSink } from '../shared/sink.js';
import { ClaudeTurnRecorder } from './turns.js';

/**
 * Records the messages of a `query()` as they are consumed and returns a `Query` that behaves
 * exactly like `q`. The open turn is written when the stream ends, fails or is closed early.
 *
 * ```ts
 * for await (const message of traceQuery(rec, query({ prompt, options: traceOptions(rec, options) }))) { ... }
 * ```
 */
export function traceQuery<Q extends AsyncIterable<unknown>>(
  sink: TraceSink,
  q: Q,
  options?: AdapterOptions,
): Q {
  const turns = new ClaudeTurnRecorder(sink, options);
  const target = q as unknown as AsyncIterator<unknown> & Record<PropertyKey, unknown>;

  async function next(...args: [] | [unknown]): Promise<IteratorResult<unknown>> {
    let result: IteratorResult<unknown>;
    try {
      result = await target.next(...args);
    } catch (err) {
      turns.flush();
      throw err;
    }
    if (result.done === true) turns.flush();
    else turns.observe(result.value);
    return result;
  }
  async function finish(method: 'return' | 'throw', arg: unknown): Promise<IteratorResult<unknown>> {
    turns.flush();
    const fn = target[method];
    if (typeof fn !== 'function') {
      if (method === 'throw') throw arg;
      return { done: true, value: arg };
    }
    return (fn as (v: unknown) => Promise<IteratorResult<unknown>>).call(target, arg);
  }

  const proxy: Q = new Proxy(q, {
    get(obj, prop) {
      if (prop === 'next') return next;
      if (prop === 'return') return (value?: unknown) => finish('return', value);
      if (prop === 'throw') return (error?: unknown) => finish('throw', error);
      if (prop === Symbol.asyncIterator) return () => proxy;
      const value: unknown = Reflect.get(obj, prop, obj);
      // Query methods use private state: call them on the real object.
      return typeof value === 'function' ? value.bind(obj) : value;
    },
  });
  return proxy;
}
