import { afterEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Supervised } from './supervisor.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'haein-supervisor-'));
const script = path.join(dir, 'idle.mjs');
fs.writeFileSync(script, 'setInterval(() => {}, 1000);\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started: Supervised[] = [];

function supervised(name: string): Supervised {
  const s = new Supervised(name, script, [], path.join(dir, `${name}.log`), {}, 100);
  started.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.shutdown(1000)));
});

describe('Supervised', () => {
  it('starts a SIGKILLed process again, counting the kill as the run\'s', async () => {
    const s = supervised('killed');
    s.start();
    await s.kill();
    await sleep(400);
    expect(s.alive()).toBe(true);
    expect(s.incarnations).toHaveLength(2);
    expect(s.exits.map((e) => e.byHarness)).toEqual([true]);
  });

  it('counts an exit it did not cause and restarts that too', async () => {
    const s = supervised('self');
    s.start();
    process.kill(s.child!.pid, 'SIGTERM'); // as if the process had exited on its own
    await sleep(400);
    expect(s.selfExits()).toHaveLength(1);
    expect(s.alive()).toBe(true);
  });

  it('after a kill and a hold released before the restart delay, runs exactly one incarnation', async () => {
    const s = supervised('held');
    s.start();
    await s.kill(); // a restart is now pending
    await s.kill(true); // hold it (the pending restart must not fire)...
    s.release(); // ...and start it again at once
    await sleep(400);
    expect(s.incarnations).toHaveLength(2);
    expect(s.alive()).toBe(true);
  });
});
