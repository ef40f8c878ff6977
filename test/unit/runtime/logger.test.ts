import { Writable } from 'node:stream';
import winston from 'winston';
import { childLogger, createLogger, newReconcileId, serializeError } from '../../../src/runtime/logger.js';

describe('logger', () => {
  it('child loggers carry kind, namespace, name and reconcile ID', () => {
    const lines: Array<Record<string, unknown>> = [];
    const parent = createLogger({ level: 'info' });
    parent.clear().add(
      new winston.transports.Stream({
        stream: new Writable({
          write(chunk, _e, cb) {
            lines.push(JSON.parse(chunk.toString()));
            cb();
          },
        }),
      }),
    );
    const id = newReconcileId();
    childLogger('GpuPartition', 'team-a', 'notebook', id, parent).info('Allocated', { err: new Error('outer', { cause: new Error('inner') }) });
    expect(lines[0]).toMatchObject({ level: 'info', message: 'Allocated', kind: 'GpuPartition', namespace: 'team-a', name: 'notebook', reconcileId: id });
    expect(lines[0].timestamp).toBeDefined();
    expect(lines[0].err).toMatchObject({ message: 'outer', cause: { message: 'inner' } });
    expect(newReconcileId()).not.toBe(id);
  });

  it('uses LOG_LEVEL when no level is given', () => {
    const saved = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'debug';
    try {
      expect(createLogger().level).toBe('debug');
    } finally {
      if (saved === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = saved;
    }
  });

  it('serializes API error fields', () => {
    const e = Object.assign(new Error('conflict'), { code: 409, reason: 'Conflict' });
    expect(serializeError(e)).toMatchObject({ message: 'conflict', code: 409, reason: 'Conflict' });
    expect(serializeError('plain')).toBe('plain');
  });
});
