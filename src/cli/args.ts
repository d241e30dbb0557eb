/**
 * Flag parsing on top of `util.parseArgs`: strict, no positionals, and every problem reported as
 * one line naming the flag, the value received and what is allowed.
 */
import { parseArgs } from 'node:util';
import { DEPLOYMENT_ID_OUTPUT, DEPLOYMENT_ID_PATTERN, INSTANCE_TYPE_NAMES, instanceFacts, InstanceTypeFacts, REGION_PATTERN } from '../catalog';
import { UsageError } from './errors';

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  /** The value shown in help, e.g. `N` or `spot|on-demand`. Only for string flags. */
  readonly placeholder?: string;
  readonly description: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export const OUTPUT_FORMATS = ['table', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Flags every command takes. */
export const COMMON_FLAGS: FlagSpecs = {
  output: { type: 'string', placeholder: 'table|json', description: 'Output format (default: table)' },
  help: { type: 'boolean', description: 'Show help for this command' },
};

/** `--region` of the commands that act in one region. */
export const REGION_FLAG: FlagSpec = { type: 'string', placeholder: 'REGION', description: 'AWS region (default: the configured region)' };

/** `--deployment untagged`: the boxes without a deployment tag, deployed before deployment ids. */
export const UNTAGGED = 'untagged';

/** The flag of every command that acts on boxes: which deployment's, when two share the name in the region. */
export const DEPLOYMENT_FLAG: FlagSpec = {
  type: 'string',
  placeholder: 'ID',
  description: `Which deployment's boxes, when several share the name here: its id (the Terraform output ${DEPLOYMENT_ID_OUTPUT}), ` +
    `or "${UNTAGGED}" for boxes deployed before deployment ids`,
};

/** An id to show as an example: the form of a deployment id. */
const EXAMPLE_DEPLOYMENT_ID = '3f2a9c1e-0b6d-4c1e-9a57-2f4b1d3e8c70';

const INSTANCE_TYPE_PATTERN = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;
const WHOLE_NUMBER = /^\d+$/;

type Values = Readonly<Record<string, string | boolean | undefined>>;

/** Parsed flags of one command, with typed, validated getters. */
export class Flags {
  /** `trailing`: the words after `--`, for commands that take a command (empty otherwise). */
  constructor(readonly command: string, private readonly values: Values, readonly trailing: readonly string[] = []) {}

  /** Whether the flag was given at all. */
  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  string(name: string): string | undefined {
    const value = this.values[name];
    return typeof value === 'string' ? value : undefined;
  }

  boolean(name: string): boolean {
    return this.values[name] === true;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.string(name);
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      throw this.invalid(name, value, `one of ${allowed.join(', ')}`);
    }
    return value as T;
  }

  /** A whole number of at least `min`. */
  wholeNumber(name: string, min = 1): number | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    if (!WHOLE_NUMBER.test(value) || Number(value) < min) {
      throw this.invalid(name, value, `a whole number of at least ${min}`);
    }
    return Number(value);
  }

  /** A comma-separated list, trimmed, without blanks or repeats. */
  list(name: string): string[] | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    const items = [...new Set(value.split(',').map((item) => item.trim()).filter(Boolean))];
    if (items.length === 0) throw this.invalid(name, value, 'a comma-separated list');
    return items;
  }

  region(name = 'region'): string | undefined {
    const value = this.string(name);
    if (value !== undefined) this.checkRegion(name, value);
    return value;
  }

  /** `--regions a,b` and `--region c` together, or undefined when neither was given. */
  regions(): string[] | undefined {
    const listed = this.list('regions') ?? [];
    listed.forEach((region) => this.checkRegion('regions', region));
    const single = this.region('region');
    const all = [...new Set(single ? [...listed, single] : listed)];
    return all.length > 0 ? all : undefined;
  }

  /** Any well-formed EC2 instance type, catalogued or not (capacity filters and offerings). */
  instanceType(name: string): string | undefined {
    const type = this.string(name);
    if (type !== undefined) this.checkInstanceType(name, type);
    return type;
  }

  /** A comma-separated list of well-formed EC2 instance types. */
  instanceTypes(name: string): string[] | undefined {
    const types = this.list(name);
    types?.forEach((type) => this.checkInstanceType(name, type));
    return types;
  }

  /** An instance type from the catalog, whose quota, vCPUs and regions we know. */
  catalogInstanceType(name: string, fallback: string): { name: string; facts: InstanceTypeFacts } {
    const type = this.string(name) ?? fallback;
    const facts = instanceFacts(type);
    if (!facts) throw this.invalid(name, type, `an instance type from the catalog: ${INSTANCE_TYPE_NAMES.join(', ')}`);
    return { name: type, facts };
  }

  /** `--deployment`: a deployment id, or UNTAGGED; undefined when not given. */
  deployment(): string | undefined {
    const value = this.string('deployment');
    if (value !== undefined && value !== UNTAGGED && !DEPLOYMENT_ID_PATTERN.test(value)) {
      throw this.invalid('deployment', value,
        `a deployment id such as ${EXAMPLE_DEPLOYMENT_ID} (the Terraform output ${DEPLOYMENT_ID_OUTPUT}), or "${UNTAGGED}"`);
    }
    return value;
  }

  output(): OutputFormat {
    return this.oneOf('output', OUTPUT_FORMATS, 'table');
  }

  /** Fails when any of `names` was given: they do not apply in the mode `reason` describes. */
  reject(names: readonly string[], reason: string): void {
    const given = names.filter((name) => this.has(name));
    if (given.length > 0) {
      throw new UsageError(this.command, `${given.map((n) => `--${n}`).join(', ')} cannot be used ${reason}`);
    }
  }

  invalid(name: string, value: string, allowed: string): UsageError {
    return new UsageError(this.command, `--${name} "${value}" is not valid; expected ${allowed}`);
  }

  private checkInstanceType(name: string, value: string): void {
    if (!INSTANCE_TYPE_PATTERN.test(value)) throw this.invalid(name, value, 'an EC2 instance type such as p5.48xlarge');
  }

  private checkRegion(name: string, value: string): void {
    if (!REGION_PATTERN.test(value)) throw this.invalid(name, value, 'an AWS region code such as us-east-2');
  }
}

/**
 * Parses `args` against the command's flags plus the common ones. With `trailing`, the words after the first
 * `--` are the command's, taken as they are.
 */
export function parseFlags(command: string, args: readonly string[], specs: FlagSpecs, trailing = false): Flags {
  const all = { ...specs, ...COMMON_FLAGS };
  const end = trailing ? args.indexOf('--') : -1;
  const flagArgs = end === -1 ? args : args.slice(0, end);
  const rest = end === -1 ? [] : args.slice(end + 1);
  const options = Object.fromEntries(
    Object.entries(all).map(([name, spec]) => [name, name === 'help' ? { type: spec.type, short: 'h' } : { type: spec.type }]),
  );
  try {
    const { values } = parseArgs({ args: [...flagArgs], options, strict: true, allowPositionals: false });
    return new Flags(command, values as Values, rest);
  } catch (error) {
    throw describeParseError(command, error, all);
  }
}

function describeParseError(command: string, error: unknown, specs: FlagSpecs): UsageError {
  const { code, message } = error as { code?: string; message?: string };
  const quoted = /'([^']+)'/.exec(message ?? '')?.[1]?.split(' ')[0];
  const allowed = Object.keys(specs).map((name) => `--${name}`).join(', ');
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(command, `unknown flag ${quoted}; allowed: ${allowed}`);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(command, `unexpected argument ${quoted ? `"${quoted}"` : ''}; flags look like --name value`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = quoted?.replace(/^-+/, '') ?? '';
      const spec = specs[name];
      return spec?.type === 'boolean'
        ? new UsageError(command, `${quoted} is a switch and takes no value`)
        : new UsageError(command, `${quoted} needs a value${spec?.placeholder ? ` (${spec.placeholder})` : ''}`);
    }
    default:
      return new UsageError(command, message ?? String(error));
  }
}
