// Runs the integration and e2e suites in the order of their paths. They share one control plane (the e2e suites
// one real node: its GpuNode spec, kubelet and node agent) one after another; Jest's default order depends on its
// cache of earlier runs, so a clean clone in CI would otherwise run them in another order than the developer's
// machine and hide an ordering problem.
import Sequencer from '@jest/test-sequencer';

/** Test files sorted by path, nothing else. */
export default class PathOrderSequencer extends Sequencer {
  sort(tests) {
    return [...tests].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}
