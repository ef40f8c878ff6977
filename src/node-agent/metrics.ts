import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of the node agent, on their own registry (served on the agent's /metrics). */
export class NodeAgentMetrics {
  readonly registry = new Registry();
  /** Seconds from a reconfiguration's first hardware step to its last, per node and outcome. */
  readonly reconfiguration = new Histogram({
    name: 'haein_node_agent_reconfiguration_seconds',
    help: 'Duration of applying a target layout on the (simulated) GPUs',
    labelNames: ['node', 'outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  /** Target layouts refused, by reason (IllegalLayout, SliceInUse). */
  readonly refusals = new Counter({
    name: 'haein_node_agent_layout_refusals_total',
    help: 'Target layouts the node agent refused, by reason',
    labelNames: ['node', 'reason'],
    registers: [this.registry],
  });
  /** Successful kubelet registrations, per resource (re-registrations after kubelet restarts included). */
  readonly registrations = new Counter({
    name: 'haein_node_agent_device_plugin_registrations_total',
    help: 'Device plugin registrations with the kubelet',
    labelNames: ['resource'],
    registers: [this.registry],
  });
  /** Devices advertised, per node and resource and health. */
  readonly devices = new Gauge({
    name: 'haein_node_agent_devices',
    help: 'Devices the node agent advertises',
    labelNames: ['node', 'resource', 'health'],
    registers: [this.registry],
  });
  /** Devices containers hold, per node. */
  readonly held = new Gauge({
    name: 'haein_node_agent_devices_in_use',
    help: 'Devices held by containers',
    labelNames: ['node'],
    registers: [this.registry],
  });
}
