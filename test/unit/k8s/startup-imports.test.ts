/**
 * No Haein process loads `@kubernetes/client-node` at start: importing it costs ~85 MiB of memory, paid by the
 * operator and by the node agent on every GPU node. It may only be imported dynamically (the kubeconfig
 * fallback for auth-provider and proxy-url). Follows every static, non-type import from the commands.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../../support/cluster.js';

const ENTRY_POINTS = ['src/cmd/operator.ts', 'src/cmd/node-agent.ts', 'src/cmd/kubectl-haein.ts'];

/** Module specifiers a file imports or re-exports at run time (type-only imports and dynamic import() excluded). */
function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const specs: string[] = [];
  for (const st of source.statements) {
    if (ts.isImportDeclaration(st)) {
      const clause = st.importClause;
      const typeOnly =
        clause?.isTypeOnly ||
        (clause && !clause.name && clause.namedBindings && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) specs.push((st.moduleSpecifier as ts.StringLiteral).text);
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier && !st.isTypeOnly) {
      specs.push((st.moduleSpecifier as ts.StringLiteral).text);
    }
  }
  return specs;
}

/** Every package a command loads at start, with the first file that imports it. */
function packagesLoadedBy(entry: string): Map<string, string> {
  const seen = new Set<string>();
  const packages = new Map<string, string>();
  const queue = [resolve(REPO_ROOT, entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of runtimeImports(file)) {
      if (spec.startsWith('.')) queue.push(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (!packages.has(spec)) packages.set(spec, file);
    }
  }
  return packages;
}

describe('start-up imports', () => {
  it.each(ENTRY_POINTS)('%s does not load @kubernetes/client-node', (entry) => {
    const packages = packagesLoadedBy(entry);
    // The walk does reach the kubeconfig code and its YAML parser: it is following real imports.
    expect(packages.has('js-yaml')).toBe(true);
    expect([...packages.keys()].filter((p) => p.startsWith('@kubernetes/'))).toEqual([]);
  });
});
