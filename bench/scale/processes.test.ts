import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PeakTracker, cpuSecondsOf, exited, freePort, memoryOf, startNodeProcess, stopProcess } from './processes.js';

describe('process figures', () => {
  it('reads CPU time and resident memory of a live process, nothing for a missing one', () => {
    let x = 0;
    for (let i = 0; i < 2e6; i++) x += i;
    expect(x).toBeGreaterThan(0);
    expect(cpuSecondsOf(process.pid)).toBeGreaterThan(0);
    const m = memoryOf(process.pid)!;
    expect(m.rss).toBeGreaterThan(1024 * 1024);
    expect(m.peakRss).toBeGreaterThanOrEqual(m.rss);
    expect(cpuSecondsOf(2 ** 22 + 12345)).toBeUndefined();
    expect(memoryOf(2 ** 22 + 12345)).toBeUndefined();
  });

  it('keeps the highest sample', () => {
    const p = new PeakTracker();
    for (const v of [3, 9, undefined, NaN, 4]) p.sample(v);
    expect(p.peak).toBe(9);
  });

  it('starts a node script with its log and stops it with SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scale-proc-'));
    const script = path.join(dir, 'child.mjs');
    fs.writeFileSync(script, "console.log('up', process.env.MARK); process.on('SIGTERM', () => { console.log('term'); process.exit(0); }); setInterval(() => {}, 1000);");
    const child = startNodeProcess('child', script, [], path.join(dir, 'child.log'), { MARK: 'm1' });
    await new Promise((r) => setTimeout(r, 500));
    expect(exited(child)).toBe(false);
    await stopProcess(child, 5000);
    expect(exited(child)).toBe(true);
    expect(fs.readFileSync(child.log, 'utf8')).toMatch(/up m1\s+term/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds a port nothing listens on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65536);
  });
});
