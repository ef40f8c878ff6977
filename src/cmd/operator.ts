#!/usr/bin/env node
/**
 * `haein-operator`: watches GpuPartitions and TrainingJobs, places them on MIG slices and whole GPUs through
 * the placement engine, and writes each GpuNode's target layout for its node agent. Flags: see `--help`.
 */
// First: checks the Node.js version before any dependency loads.
import './require-node.js';
import { registerControllers } from '../controllers/operator-setup.js';
import { USAGE, parseOperatorArgs, type OperatorConfig } from './operator-flags.js';
import { KubeClient, loadKubeConfig } from '../k8s/client.js';
import { HealthServer } from '../runtime/health-server.js';
import { createLogger } from '../runtime/logger.js';
import { Manager } from '../runtime/manager.js';
import { SliceMapServer } from '../slice-map/server.js';
import { BillingServer } from '../tenancy/metering/billing-server.js';

async function main(): Promise<void> {
  let cfg: OperatorConfig;
  try {
    cfg = parseOperatorArgs(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  if (process.argv.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const log = createLogger({ level: cfg.logLevel, component: 'haein-operator' });
  const client = new KubeClient(loadKubeConfig(cfg.kubeconfig), { fieldManager: 'haein-operator', userAgent: 'haein-operator' });
  const manager = new Manager({
    client,
    logger: log,
    health: { port: cfg.healthPort },
    leaderElection: cfg.leaderElect
      ? {
          namespace: cfg.leaseNamespace,
          name: cfg.leaseName,
          identity: cfg.identity,
          leaseDurationMs: cfg.leaseDurationMs,
          renewDeadlineMs: cfg.renewDeadlineMs,
          retryPeriodMs: cfg.retryPeriodMs,
        }
      : false,
  });
  const { informers, metering } = registerControllers(manager, client, {
    workers: cfg.workers,
    claimantWorkers: cfg.claimantWorkers,
    cycle: { maxBatch: cfg.cycleMaxBatch, maxPlanMs: cfg.cycleMaxPlanMs },
    defrag: cfg.defrag,
    metering: cfg.metering ? { intervalMs: cfg.meteringIntervalMs, retentionDays: cfg.meteringRetentionDays } : false,
    unassignedNamespaces: cfg.unassignedNamespaces,
    logger: log,
    ...(cfg.namespace ? { namespace: cfg.namespace } : {}),
  });
  // /metrics has its own port (Prometheus scrapes it; probes use the health port).
  const metricsServer = cfg.metricsPort !== cfg.healthPort ? new HealthServer({ port: cfg.metricsPort, registry: manager.metrics.registry, logger: log }) : undefined;
  await metricsServer?.start();
  // Read-only slice map, fed by the informers above (every replica has warm caches, so any replica can serve it).
  const sliceMap =
    cfg.sliceMapPort === undefined
      ? undefined
      : new SliceMapServer({ port: cfg.sliceMapPort, sources: { ...informers, pods: [informers.partitionPods, informers.jobPods] }, logger: log });
  const sliceMapPort = await sliceMap?.start();
  // Billing export from the metering caches (any replica can answer).
  const billing = cfg.billingPort === undefined || !metering ? undefined : new BillingServer({ port: cfg.billingPort, source: metering.view, log });
  const billingPort = await billing?.start();
  log.info('Starting haein-operator', {
    leaderElect: cfg.leaderElect,
    identity: cfg.identity,
    namespace: cfg.namespace ?? '(all)',
    metricsPort: cfg.metricsPort,
    healthPort: cfg.healthPort,
    sliceMapPort: sliceMapPort ?? 'off',
    metering: cfg.metering,
    billingPort: billingPort ?? 'off',
  });
  await manager.start();
  await manager.done();
  await metricsServer?.stop();
  await sliceMap?.stop();
  await billing?.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`haein-operator failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
