/**
 * Test helpers that read the CRDs of record in `crds/` and walk their OpenAPI schemas. No Kubernetes client:
 * the files are parsed with js-yaml.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

/** Repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** Directory of the CRDs of record. */
export const CRD_DIR = join(ROOT, 'crds');

/** The subset of an OpenAPI v3 schema (with Kubernetes extensions) the tests look at. */
export interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  default?: unknown;
  format?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: Array<{ rule: string; message?: string; messageExpression?: string; fieldPath?: string; reason?: string }>;
}

/** A printer column of a CRD version. */
export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
}

/** The fields of a CustomResourceDefinition the tests use. */
export interface Crd {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: { kind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: object };
      additionalPrinterColumns?: PrinterColumn[];
      schema: { openAPIV3Schema: Schema };
    }>;
  };
}

/** File names of the CRDs of record, sorted. */
export function crdFiles(dir = CRD_DIR): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
}

/** Parses one CRD file. */
export function loadCrd(file: string, dir = CRD_DIR): Crd {
  return yaml.load(readFileSync(join(dir, file), 'utf8')) as Crd;
}

/** Every CRD of record keyed by kind. */
export function crdsByKind(): Map<string, Crd> {
  const out = new Map<string, Crd>();
  for (const f of crdFiles()) {
    const crd = loadCrd(f);
    out.set(crd.spec.names.kind, crd);
  }
  return out;
}

/** The root schema of the single served version. */
export function rootSchema(crd: Crd): Schema {
  return crd.spec.versions[0].schema.openAPIV3Schema;
}

/**
 * Resolves a dotted schema path below the root, e.g. `spec.gpus[].slices[].claim`; `[]` steps into `items`.
 * Throws naming the missing step so a failing test says where the schema diverges.
 */
export function schemaAt(root: Schema, path: string): Schema {
  let node = root;
  for (const raw of path.split('.')) {
    const isList = raw.endsWith('[]');
    const name = isList ? raw.slice(0, -2) : raw;
    const next = node.properties?.[name];
    if (!next) throw new Error(`schema has no property '${name}' (path ${path})`);
    node = next;
    if (isList) {
      if (!node.items) throw new Error(`'${name}' is not an array (path ${path})`);
      node = node.items;
    }
  }
  return node;
}

/** Visits every schema node below `root` with its dotted path (`[]` for array items, `{}` for map values). */
export function walkSchema(root: Schema, visit: (node: Schema, path: string) => void, path = ''): void {
  visit(root, path);
  for (const [name, child] of Object.entries(root.properties ?? {})) {
    walkSchema(child, visit, path ? `${path}.${name}` : name);
  }
  if (root.items) walkSchema(root.items, visit, `${path}[]`);
  if (root.additionalProperties && typeof root.additionalProperties === 'object') {
    walkSchema(root.additionalProperties, visit, `${path}{}`);
  }
}

/** All CEL rules of a schema node, or an empty list. */
export function rulesOf(node: Schema): string[] {
  return (node['x-kubernetes-validations'] ?? []).map((v) => v.rule.replace(/\s+/g, ' '));
}
