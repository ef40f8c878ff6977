#!/usr/bin/env node
/**
 * `haein-node-agent`: simulates a node's Blackwell GPUs, realises the GpuNode target layout, and serves the
 * kubelet device-plugin API (or, for kubelet-less simulated nodes, the Node's capacity). Flags: `--help` or
 * docs/node-agent.md.
 */
// First: checks the Node.js version before any dependency loads.
import './require-node.js';
import { parseConfig, USAGE } from '../node-agent/config.js';
import { NodeAgentRunner } from '../node-agent/runner.js';
import { KubeClient, loadKubeConfig } from '../k8s/client.js';
import { HealthServer } from '../runtime/health-server.js';
import { createLogger } from '../runtime/logger.js';

const SHUTDOWN_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (config === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const log = createLogger({ component: 'haein-node-agent', level: config.logLevel });
  const client = new KubeClient(loadKubeConfig(config.kubeconfig), { fieldManager: 'haein-node-agent', userAgent: 'haein-node-agent' });
  const runner = new NodeAgentRunner(config, client, log);
  const health = config.healthPort > 0 ? new HealthServer({ port: config.healthPort, logger: log, registry: runner.metrics.registry, readiness: { agents: () => runner.ready() } }) : undefined;

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('Shutting down', { signal });
    // Exit even if something hangs: the DaemonSet restarts us and the state file is always consistent.
    setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT_MS).unref();
    void runner
      .stop()
      .then(() => health?.stop())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error('Shutdown failed', { err });
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  if (health) await health.start();
  await runner.start();
  log.info('Node agent running', { nodes: config.nodes, nodeSelector: config.nodeSelector, devicePlugin: config.devicePlugin });
}

main().catch((err: unknown) => {
  process.stderr.write(`haein-node-agent failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  if (err instanceof Error && err.cause) process.stderr.write(`cause: ${String(err.cause)}\n`);
  process.exit(1);
});
