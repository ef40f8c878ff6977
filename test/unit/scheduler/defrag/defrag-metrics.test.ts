import { Registry } from 'prom-client';
import { DEFRAG_METRIC_NAMES, DefragMetrics } from '../../../../src/scheduler/defrag/defrag-metrics.js';

test('plans and moves are counted per result and action on the given registry, zero series from the start', async () => {
  const registry = new Registry();
  const m = new DefragMetrics(registry);
  let text = await registry.metrics();
  expect(text).toContain(`${DEFRAG_METRIC_NAMES.plans}{result="none"} 0`);
  expect(text).toContain(`${DEFRAG_METRIC_NAMES.moves}{action="move"} 0`);

  m.plan('applied');
  m.plan('applied');
  m.plan('rejected');
  m.moves('move', 3);
  m.moves('preempt', 1);
  m.moves('destroy', 0);
  text = await registry.metrics();
  expect(text).toContain(`${DEFRAG_METRIC_NAMES.plans}{result="applied"} 2`);
  expect(text).toContain(`${DEFRAG_METRIC_NAMES.plans}{result="rejected"} 1`);
  expect(text).toContain(`${DEFRAG_METRIC_NAMES.moves}{action="move"} 3`);
  expect(text).toContain(`${DEFRAG_METRIC_NAMES.moves}{action="preempt"} 1`);
  expect(text).toContain(`${DEFRAG_METRIC_NAMES.moves}{action="destroy"} 0`);
});
