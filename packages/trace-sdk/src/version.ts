/** Name and version written into every artifact header's `sdk` field. */
export const SDK_NAME = '@agent-trace/trace-sdk';
/** Kept in step with package.json by a test. */
export const SDK_VERSION = '0.1.0';
