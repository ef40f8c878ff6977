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
      subresources?: { status?: object; scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string } };
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

/**
 * Structural validation of a value against a schema, as the API server does before CEL: unknown fields (unless
 * preserved), types, required fields, enums, patterns, numeric and size bounds. Returns one message per problem.
 */
export function structuralErrors(schema: Schema, value: unknown, path = ''): string[] {
  const errors: string[] = [];
  const at = path || '<root>';
  switch (schema.type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: expected object`];
      const obj = value as Record<string, unknown>;
      for (const req of schema.required ?? []) {
        if (!(req in obj)) errors.push(`${at}.${req}: required`);
      }
      if (schema.maxProperties !== undefined && Object.keys(obj).length > schema.maxProperties) {
        errors.push(`${at}: more than ${schema.maxProperties} properties`);
      }
      for (const [k, v] of Object.entries(obj)) {
        // The API server validates the root metadata itself (ObjectMeta).
        if (path === '' && k === 'metadata') continue;
        const child = schema.properties?.[k];
        const childPath = path ? `${path}.${k}` : k;
        if (child) errors.push(...structuralErrors(child, v, childPath));
        else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
          errors.push(...structuralErrors(schema.additionalProperties, v, childPath));
        } else if (!schema['x-kubernetes-preserve-unknown-fields']) {
          errors.push(`${childPath}: unknown field`);
        }
      }
      break;
    }
    case 'array': {
      if (!Array.isArray(value)) return [`${at}: expected array`];
      if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${at}: fewer than ${schema.minItems} items`);
      if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${at}: more than ${schema.maxItems} items`);
      value.forEach((item, i) => schema.items && errors.push(...structuralErrors(schema.items, item, `${path}[${i}]`)));
      break;
    }
    case 'string':
      if (typeof value !== 'string') return [`${at}: expected string`];
      if (schema.pattern && !new RegExp(schema.pattern).test(value)) errors.push(`${at}: does not match ${schema.pattern}`);
      if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${at}: longer than ${schema.maxLength}`);
      if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${at}: shorter than ${schema.minLength}`);
      break;
    case 'integer':
    case 'number':
      if (typeof value !== 'number' || (schema.type === 'integer' && !Number.isInteger(value))) return [`${at}: expected ${schema.type}`];
      if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: below ${schema.minimum}`);
      if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: above ${schema.maximum}`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return [`${at}: expected boolean`];
      break;
    default:
      break;
  }
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${at}: not one of ${JSON.stringify(schema.enum)}`);
  return errors;
}
