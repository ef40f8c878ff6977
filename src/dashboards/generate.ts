#!/usr/bin/env node
/** Writes the operator's Grafana dashboard into the chart: `npm run dashboards`. */
// First: checks the Node.js version before any dependency loads.
import '../cmd/require-node.js';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { operatorDashboardJson } from './operator-dashboard.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const out = path.join(root, 'charts', 'haein', 'dashboards', 'haein-operator.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, operatorDashboardJson());
process.stdout.write(`wrote ${path.relative(root, out)}\n`);
