/**
 * Structured JSON logging (winston). The level comes from `LOG_LEVEL` (default `info`). Error objects in
 * log metadata are serialised with message, code and cause chain instead of the `{}` JSON gives them.
 */
import { randomBytes } from 'node:crypto';
import winston from 'winston';

/** Turns an Error (and its cause chain) into plain JSON-friendly data. */
export function serializeError(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error)) return err;
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  const extra = err as Error & { code?: unknown; reason?: unknown };
  if (extra.code !== undefined) out.code = extra.code;
  if (typeof extra.reason === 'string') out.reason = extra.reason;
  if (err.stack) out.stack = err.stack;
  if (err.cause !== undefined && depth < 5) out.cause = serializeError(err.cause, depth + 1);
  return out;
}

const errorsToJson = winston.format((info) => {
  for (const [k, v] of Object.entries(info)) {
    if (v instanceof Error) (info as Record<string, unknown>)[k] = serializeError(v);
  }
  return info;
});

/** Creates a JSON logger; `component` is added to every line. */
export function createLogger(opts: { level?: string; component?: string; silent?: boolean } = {}): winston.Logger {
  return winston.createLogger({
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    silent: opts.silent ?? false,
    defaultMeta: opts.component ? { component: opts.component } : undefined,
    format: winston.format.combine(errorsToJson(), winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
}

/** The process-wide root logger. */
export const logger = createLogger({ component: 'haein-operator' });

/** Short random ID correlating the log lines of one reconcile pass. */
export function newReconcileId(): string {
  return randomBytes(4).toString('hex');
}

/** Logger for one reconcile pass, tagged with the object's kind, namespace, name and the pass ID. */
export function childLogger(
  kind: string,
  namespace: string | undefined,
  name: string,
  reconcileId: string,
  parent: winston.Logger = logger,
): winston.Logger {
  return parent.child({ kind, ...(namespace ? { namespace } : {}), name, reconcileId });
}
