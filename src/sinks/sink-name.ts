import type { ResolvedSinkSpec } from './sink-spec.js';

/** A sink as messages and logs name it: its type (with its file, if it has one), or `module <path>`. */
export function sinkName(spec: ResolvedSinkSpec): string {
  if ('module' in spec) return `module ${spec.module}`;
  return 'path' in spec ? `${spec.type} at ${spec.path}` : spec.type;
}
