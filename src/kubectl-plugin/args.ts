/** Command line of `kubectl haein`, following kubectl's own conventions. Pure. */

/** Output formats: a table (default), `wide`, or the data as `json` / `yaml`. */
export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml';

/** A parsed command line. */
export interface PluginArgs {
  command: 'map' | 'why' | 'top' | 'help';
  /** `why`'s `<kind>/<name>`. */
  target?: { kind: WhyKind; name: string };
  /** `-n`; absent: the context's namespace. */
  namespace?: string;
  /** `-A` / `--all-namespaces`. */
  allNamespaces: boolean;
  output: OutputFormat;
  /** `top --by`: rows per namespace and profile (default), or per GpuTenant. */
  by: 'namespace' | 'tenant';
  /** `--tenant`: only this GpuTenant's slices (map) or rows (top). */
  tenant?: string;
  kubeconfig?: string;
  context?: string;
}

/** Kinds `why` explains. */
export type WhyKind = 'GpuPartition' | 'TrainingJob' | 'Pod';

/** Names kubectl users type for each kind (singular, plural, short, with the API group). */
const KIND_ALIASES: Record<string, WhyKind> = {};
for (const [kind, names] of Object.entries({
  GpuPartition: ['gpupartition', 'gpupartitions', 'gpup', 'gpupartition.gpu.haein.dev', 'gpupartitions.gpu.haein.dev'],
  TrainingJob: ['trainingjob', 'trainingjobs', 'tj', 'trainingjob.gpu.haein.dev', 'trainingjobs.gpu.haein.dev'],
  Pod: ['pod', 'pods', 'po'],
})) {
  for (const n of names) KIND_ALIASES[n] = kind as WhyKind;
}

/** Exit codes: 0 done, 1 the cluster said no (not found, unreachable, forbidden), 2 bad command line. */
export const EXIT = { ok: 0, error: 1, usage: 2 } as const;

/** A command-line mistake; the message is shown with a pointer to `--help`. */
export class UsageError extends Error {}

/** Usage text. */
export const USAGE = `kubectl haein: see Haein's GPU slices from the command line.

Usage:
  kubectl haein map  [-n NS | -A] [--tenant T] [-o wide|json|yaml]   one line per GPU: its slices, their state,
                                                                     holders (wide: tenants, * borrowed)
  kubectl haein why  KIND/NAME [-n NS] [-o json|yaml]                why a GpuPartition, TrainingJob or Pod
                                                                     waits: for capacity or for its tenant's quota
  kubectl haein top  [-n NS | -A] [--tenant T] [-o wide|json|yaml]   allocation by namespace and profile
  kubectl haein top  --by tenant [-n NS] [--tenant T] [-o ...]       per GpuTenant: nominal, used, borrowed,
                                                                     lent, waiting, GPU-eq by profile

KIND is gpupartition (gpup), trainingjob (tj) or pod.

Flags:
  -n, --namespace NS      namespace (default: the context's namespace; map and top --by tenant default to all)
  -A, --all-namespaces    every namespace
      --tenant NAME       only slices held for (map) or rows of (top) this GpuTenant
      --by namespace|tenant   top's rows: per namespace and profile (default) or per GpuTenant
  -o, --output FORMAT     wide, json or yaml
      --kubeconfig PATH   kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
      --context NAME      kubeconfig context (default: the current context)
  -h, --help              this help

Reads the cluster with your own credentials; it does not need the operator to be reachable.
Exit codes: 0 ok, 1 the cluster refused or the object is not found, 2 bad command line.`;

/** Parses `argv` (without node and script). Throws {@link UsageError}. */
export function parsePluginArgs(argv: string[]): PluginArgs {
  const out: PluginArgs = { command: 'help', allNamespaces: false, output: 'table', by: 'namespace' };
  let bySet = false;
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      // -nfoo and -ojson, as kubectl accepts them.
      if (/^-[no]./.test(arg)) return arg.slice(2);
      const v = argv[++i];
      if (v === undefined || v === '') throw new UsageError(`flag ${flag} needs a value`);
      return v;
    };
    if (flag === '-h' || flag === '--help') return { ...out, command: 'help' };
    else if (flag === '-A' || flag === '--all-namespaces') out.allNamespaces = true;
    else if (flag === '-n' || flag === '--namespace' || /^-n./.test(arg)) out.namespace = value();
    else if (flag === '-o' || flag === '--output' || /^-o./.test(arg)) out.output = outputFormat(value());
    else if (flag === '--tenant') out.tenant = value();
    else if (flag === '--by') {
      const by = value();
      if (by !== 'namespace' && by !== 'tenant') throw new UsageError(`--by takes namespace or tenant, not "${by}"`);
      out.by = by;
      bySet = true;
    } else if (flag === '--kubeconfig') out.kubeconfig = value();
    else if (flag === '--context') out.context = value();
    else if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown flag ${flag}`);
    else positional.push(arg);
  }
  const [command, ...rest] = positional;
  if (command === undefined || command === 'help') return { ...out, command: 'help' };
  if (command !== 'map' && command !== 'why' && command !== 'top') throw new UsageError(`unknown command "${command}" (map, why, top)`);
  out.command = command;
  if (out.allNamespaces && out.namespace) throw new UsageError('-n and -A cannot be used together');
  if (bySet && command !== 'top') throw new UsageError(`--by applies to top, not ${command}`);
  if (command === 'why') {
    if (rest.length !== 1) throw new UsageError('why needs exactly one KIND/NAME, e.g. why gpup/notebook');
    out.target = parseTarget(rest[0] as string);
    if (out.allNamespaces) throw new UsageError('why explains one object: use -n, not -A');
    if (out.output === 'wide') throw new UsageError('why prints text, json or yaml; -o wide does not apply');
    if (out.tenant !== undefined) throw new UsageError('why explains one object: --tenant does not apply');
  } else if (rest.length > 0) {
    throw new UsageError(`${command} takes no arguments, got ${rest.join(' ')}`);
  }
  return out;
}

function outputFormat(v: string): OutputFormat {
  if (v === 'wide' || v === 'json' || v === 'yaml') return v;
  throw new UsageError(`unknown output format "${v}" (wide, json, yaml)`);
}

/** `gpup/notebook` → `{ kind: 'GpuPartition', name: 'notebook' }`. */
export function parseTarget(text: string): { kind: WhyKind; name: string } {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) throw new UsageError(`"${text}" is not KIND/NAME (e.g. gpup/notebook, tj/llm-pretrain, pod/nb-0)`);
  const kind = KIND_ALIASES[text.slice(0, slash).toLowerCase()];
  if (!kind) throw new UsageError(`unknown kind "${text.slice(0, slash)}" (gpupartition/gpup, trainingjob/tj, pod)`);
  return { kind, name: text.slice(slash + 1) };
}
