/**
 * Compares the TypeScript API shapes in `src/api/types.ts` with a CRD schema, field by field, using the
 * TypeScript compiler's parser (no type checking needed: the shapes are plain interfaces and literals).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { ROOT, type Schema } from './crd-schema.js';

const TYPES_FILE = join(ROOT, 'src', 'api', 'types.ts');

/** Interfaces of `src/api/types.ts` by name. */
function parseInterfaces(): Map<string, ts.InterfaceDeclaration> {
  const source = ts.createSourceFile(TYPES_FILE, readFileSync(TYPES_FILE, 'utf8'), ts.ScriptTarget.ES2023, true);
  const out = new Map<string, ts.InterfaceDeclaration>();
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node)) out.set(node.name.text, node);
  });
  return out;
}

/** Type aliases (e.g. `GpuPartitionPhase`) by name. */
function parseAliases(): Map<string, ts.TypeAliasDeclaration> {
  const source = ts.createSourceFile(TYPES_FILE, readFileSync(TYPES_FILE, 'utf8'), ts.ScriptTarget.ES2023, true);
  const out = new Map<string, ts.TypeAliasDeclaration>();
  source.forEachChild((node) => {
    if (ts.isTypeAliasDeclaration(node)) out.set(node.name.text, node);
  });
  return out;
}

/** Options of a comparison. */
export interface MirrorOptions {
  /** Schema paths whose object schema may hold only a subset of the TS members (e.g. a pod template's metadata). */
  subsetPaths?: string[];
  /** Schema paths not compared below (e.g. the root `metadata`, which the API server defines). */
  skipPaths?: string[];
}

/**
 * Returns every mismatch between the interface `typeName` and `schema`: members missing on either side,
 * required TS members that the schema neither requires nor defaults, and type-kind or enum differences.
 */
export function mirrorMismatches(typeName: string, schema: Schema, opts: MirrorOptions = {}): string[] {
  const interfaces = parseInterfaces();
  const aliases = parseAliases();
  const problems: string[] = [];

  const compareMembers = (members: readonly ts.TypeElement[], node: Schema, path: string): void => {
    if (opts.skipPaths?.includes(path)) return;
    const tsProps = new Map<string, ts.PropertySignature>();
    for (const m of members) {
      if (ts.isPropertySignature(m) && m.name && ts.isIdentifier(m.name)) tsProps.set(m.name.text, m);
    }
    const schemaProps = node.properties ?? {};
    const subset = opts.subsetPaths?.includes(path);
    for (const name of Object.keys(schemaProps)) {
      if (!tsProps.has(name)) problems.push(`${path}.${name}: in the CRD, missing in types.ts`);
    }
    for (const [name, prop] of tsProps) {
      const childPath = path ? `${path}.${name}` : name;
      const child = schemaProps[name];
      if (!child) {
        if (!subset) problems.push(`${childPath}: in types.ts, missing in the CRD`);
        continue;
      }
      const requiredInTs = !prop.questionToken;
      const requiredInCrd = (node.required ?? []).includes(name) || child.default !== undefined;
      // The API server itself guarantees apiVersion, kind and metadata.
      const serverManaged = path === '' && ['apiVersion', 'kind', 'metadata'].includes(name);
      if (requiredInTs && !requiredInCrd && !serverManaged) {
        problems.push(`${childPath}: required in types.ts but neither required nor defaulted in the CRD`);
      }
      if (prop.type) compareType(prop.type, child, childPath);
    }
  };

  const compareType = (type: ts.TypeNode, node: Schema, path: string): void => {
    if (opts.skipPaths?.includes(path)) return;
    if (ts.isTypeLiteralNode(type)) {
      expectType(node, ['object'], path);
      compareMembers(type.members, node, path);
    } else if (ts.isArrayTypeNode(type)) {
      expectType(node, ['array'], path);
      if (node.items) compareType(type.elementType, node.items, `${path}[]`);
    } else if (ts.isTypeReferenceNode(type) && ts.isIdentifier(type.typeName)) {
      const ref = type.typeName.text;
      const args = type.typeArguments ?? [];
      if (ref === 'Array' && args.length === 1) {
        expectType(node, ['array'], path);
        if (node.items) compareType(args[0], node.items, `${path}[]`);
      } else if (ref === 'Record' && args.length === 2) {
        expectType(node, ['object'], path);
        const value = node.additionalProperties;
        if (args[1].kind === ts.SyntaxKind.UnknownKeyword) {
          if (!node['x-kubernetes-preserve-unknown-fields']) {
            problems.push(`${path}: Record<string, unknown> needs x-kubernetes-preserve-unknown-fields`);
          }
        } else if (value && typeof value === 'object') {
          compareType(args[1], value, `${path}{}`);
        } else {
          problems.push(`${path}: a map in types.ts but the CRD has no additionalProperties`);
        }
      } else if (interfaces.has(ref)) {
        expectType(node, ['object'], path);
        compareMembers(interfaces.get(ref)!.members, node, path);
      } else if (aliases.has(ref)) {
        compareType(aliases.get(ref)!.type, node, path);
      } else {
        problems.push(`${path}: unknown type reference ${ref}`);
      }
    } else if (ts.isUnionTypeNode(type)) {
      const literals = type.types.map((t) =>
        ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal) ? t.literal.text : undefined,
      );
      if (literals.every((l) => l !== undefined)) {
        expectType(node, ['string'], path);
        const want = [...literals].sort();
        const got = [...(node.enum ?? [])].map(String).sort();
        if (JSON.stringify(want) !== JSON.stringify(got)) {
          problems.push(`${path}: enum ${JSON.stringify(got)} differs from types.ts ${JSON.stringify(want)}`);
        }
      } else {
        problems.push(`${path}: unsupported union in types.ts`);
      }
    } else if (ts.isLiteralTypeNode(type) && ts.isStringLiteral(type.literal)) {
      expectType(node, ['string'], path);
    } else if (type.kind === ts.SyntaxKind.StringKeyword) {
      expectType(node, ['string'], path);
    } else if (type.kind === ts.SyntaxKind.NumberKeyword) {
      expectType(node, ['integer', 'number'], path);
    } else if (type.kind === ts.SyntaxKind.BooleanKeyword) {
      expectType(node, ['boolean'], path);
    } else {
      problems.push(`${path}: unsupported TS type ${ts.SyntaxKind[type.kind]}`);
    }
  };

  const expectType = (node: Schema, types: string[], path: string): void => {
    if (!node.type || !types.includes(node.type)) {
      problems.push(`${path}: CRD type ${node.type ?? '(none)'}, types.ts expects ${types.join(' or ')}`);
    }
  };

  const root = interfaces.get(typeName);
  if (!root) return [`no interface ${typeName} in types.ts`];
  compareMembers(root.members, schema, '');
  return problems;
}
