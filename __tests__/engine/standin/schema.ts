/**
 * Rebuilds Terraform provider schemas from the installed `@cdktf/provider-*` packages, which were
 * generated from the providers' real schemas. Each generated `lib/<name>/index.js` carries its
 * TypeScript source in an inline source map, where the generator wrote, for every attribute:
 *
 *   // <attribute> - computed: X, optional: Y, required: Z     (above each member, nested ones too)
 *   this.getStringAttribute('<attribute>')                     (getters give the type)
 *   <attribute>: { value: ..., isBlock: B, type: T, storageClassType: S }   (the HCL mappers)
 *
 * The mappers tell blocks from attributes and list from set from single; the getters type the
 * computed-only attributes the mappers do not list. A pattern the parser does not know fails loudly.
 * The result has the shape of `terraform providers schema -json`, so the stand-in serves it as is.
 * What the generated code does not record (sensitive, write-only) is in SCHEMA_ADDITIONS below.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeAtomically } from '../../support/files';

export type CtyType = string | [string, CtyType] | ['object', Record<string, CtyType>];

export interface SchemaAttribute {
  type: CtyType;
  required?: boolean;
  optional?: boolean;
  computed?: boolean;
  sensitive?: boolean;
  write_only?: boolean;
}

export interface SchemaBlock {
  attributes: Record<string, SchemaAttribute>;
  block_types: Record<string, { nesting_mode: 'single' | 'list' | 'set'; block: SchemaBlock; min_items?: number; max_items?: number }>;
}

export interface ProviderSchema {
  provider: { version: number; block: SchemaBlock };
  resource_schemas: Record<string, { version: number; block: SchemaBlock }>;
  data_source_schemas: Record<string, { version: number; block: SchemaBlock }>;
}

/**
 * What the generated code does not record, for the types the stack uses: secret values are
 * `sensitive` (so Terraform refuses them in plain outputs), `value_wo` is a write-only argument
 * (Terraform 1.11+). Deprecation and max_items above 1 change nothing the tests look at.
 */
export const SCHEMA_ADDITIONS: Readonly<Record<string, Readonly<Record<string, Partial<SchemaAttribute>>>>> = {
  aws_ssm_parameter: { value: { sensitive: true }, value_wo: { write_only: true, sensitive: true } },
  'data.aws_ssm_parameter': { value: { sensitive: true } },
  tls_private_key: {
    private_key_pem: { sensitive: true },
    private_key_openssh: { sensitive: true },
    private_key_pem_pkcs8: { sensitive: true },
  },
};

export class SchemaParseError extends Error {}

// ------------------------------------------------------------------ reading the generated source

/** The TypeScript source of one generated module, from its inline source map. */
export function generatedSource(packageDir: string, module: string): string {
  const file = path.join(packageDir, 'lib', module, 'index.js');
  const text = fs.readFileSync(file, 'utf8');
  const map = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/m.exec(text);
  if (!map) throw new SchemaParseError(`${file}: no inline source map`);
  const sources = JSON.parse(Buffer.from(map[1], 'base64').toString('utf8')).sourcesContent as string[] | undefined;
  if (!sources?.[0]) throw new SchemaParseError(`${file}: the source map carries no source`);
  return sources[0];
}

/** Top-level declarations (`export class|function|interface Name`) and their text. */
function declarations(source: string): Map<string, string> {
  const found = new Map<string, string>();
  const starts = [...source.matchAll(/^export (?:class|function|interface) (\w+)/gm)];
  starts.forEach((match, i) => {
    const end = i + 1 < starts.length ? starts[i + 1].index : source.length;
    found.set(match[1], source.slice(match.index, end));
  });
  return found;
}

interface HclEntry {
  readonly isBlock: boolean;
  readonly type: 'simple' | 'list' | 'set' | 'map' | 'struct';
  readonly storageClassType: string;
  /** The mapper function of a nested struct, e.g. `instanceRootBlockDeviceToHclTerraform`. */
  readonly nestedMapper?: string;
}

const HCL_ENTRY = /^ {4,6}(\w+): \{\n\s+value: (.+),\n\s+isBlock: (true|false),\n\s+type: "(\w+)",\n\s+storageClassType: "(\w+)",\n\s+\},?$/gm;

/** The entries of the `const attrs = { ... }` of a mapper or of synthesizeHclAttributes. */
function hclEntries(text: string, where: string): Map<string, HclEntry> {
  const body = /const attrs = \{\n([\s\S]*?)\n {2,4}\};/.exec(text);
  if (!body) throw new SchemaParseError(`${where}: no HCL attribute map`);
  const entries = new Map<string, HclEntry>();
  for (const m of body[1].matchAll(HCL_ENTRY)) {
    const type = m[4] as HclEntry['type'];
    if (!['simple', 'list', 'set', 'map', 'struct'].includes(type)) throw new SchemaParseError(`${where}.${m[1]}: HCL type ${type}`);
    const nested = /(?:^|\()(\w+ToHclTerraform)\b/.exec(m[2].replace(/cdktf\.\w+ToHclTerraform/g, ''));
    entries.set(m[1], { isBlock: m[3] === 'true', type, storageClassType: m[5], nestedMapper: nested?.[1] });
  }
  // Every entry must have been understood: an unknown shape would silently drop attributes.
  if (entries.size !== (body[1].match(/^\s+isBlock: /gm) ?? []).length) {
    throw new SchemaParseError(`${where}: HCL attribute map has entries of an unknown shape`);
  }
  return entries;
}

type Getter =
  | { kind: 'type'; type: CtyType }
  | { kind: 'nested'; className: string; set: boolean; single: boolean };

interface Member {
  readonly computed: boolean;
  readonly optional: boolean;
  readonly required: boolean;
  readonly getter?: Getter;
}

const SIMPLE_GETTERS: Readonly<Record<string, CtyType>> = {
  getStringAttribute: 'string',
  getNumberAttribute: 'number',
  getBooleanAttribute: 'bool',
  getListAttribute: ['list', 'string'],
  getNumberListAttribute: ['list', 'number'],
  getStringMapAttribute: ['map', 'string'],
  getNumberMapAttribute: ['map', 'number'],
  getBooleanMapAttribute: ['map', 'bool'],
};
const MAP_CLASSES: Readonly<Record<string, CtyType>> = {
  StringMap: ['map', 'string'], NumberMap: ['map', 'number'], BooleanMap: ['map', 'bool'],
};

const MEMBER_COMMENT = /^ {2}\/\/ (\w+) - computed: (true|false), optional: (true|false), required: (true|false)\n((?: {2}(?!\/\/ \w+ - computed).*\n|\n)*)/gm;

/** The commented members of a class: flags, and the getter's type where the getter tells one. */
function members(classText: string, where: string): Map<string, Member> {
  const found = new Map<string, Member>();
  for (const m of classText.matchAll(MEMBER_COMMENT)) {
    found.set(m[1], {
      computed: m[2] === 'true', optional: m[3] === 'true', required: m[4] === 'true',
      getter: getterOf(m[5], `${where}.${m[1]}`, m[1]),
    });
  }
  return found;
}

function getterOf(body: string, where: string, name: string): Getter | undefined {
  const nested = new RegExp(`= new ([\\w.]+)\\(this, "${name}"(?:, (true|false))?\\)`).exec(body);
  if (nested) {
    const cls = nested[1].replace(/^cdktf\./, '');
    if (cls in MAP_CLASSES) return { kind: 'type', type: MAP_CLASSES[cls] };
    if (nested[1].startsWith('cdktf.')) throw new SchemaParseError(`${where}: unknown cdktf class ${nested[1]}`);
    const single = cls.endsWith('OutputReference');
    if (!single && !cls.endsWith('List')) throw new SchemaParseError(`${where}: nested class ${cls} is neither a List nor an OutputReference`);
    return { kind: 'nested', className: single ? cls : cls.replace(/List$/, 'OutputReference'), set: nested[2] === 'true', single };
  }
  const set = new RegExp(`cdktf\\.Fn\\.tolist\\(this\\.(\\w+)\\('${name}'\\)\\)`).exec(body);
  if (set) {
    const listed = SIMPLE_GETTERS[set[1]];
    if (!Array.isArray(listed) || listed[0] !== 'list') throw new SchemaParseError(`${where}: tolist over ${set[1]}`);
    return { kind: 'type', type: ['set', listed[1]] };
  }
  const simple = new RegExp(`this\\.(\\w+)\\('${name}'\\)`).exec(body);
  if (simple) {
    const type = SIMPLE_GETTERS[simple[1]];
    if (!type) throw new SchemaParseError(`${where}: unknown getter ${simple[1]}`);
    return { kind: 'type', type };
  }
  // Provider classes return the stored input (`return this._region;`): the mapper gives the type.
  if (/return this\._\w+;/.test(body)) return undefined;
  throw new SchemaParseError(`${where}: no getter of a known shape`);
}

const ELEMENT_TYPES: Readonly<Record<string, string>> = { string: 'string', number: 'number', boolean: 'bool' };

function simpleType(entry: HclEntry, where: string): CtyType {
  const { type, storageClassType: storage } = entry;
  if (type === 'simple' && storage in ELEMENT_TYPES) return ELEMENT_TYPES[storage];
  const element = /^(string|number|boolean)(List|Map)$/.exec(storage);
  if (element && (type === 'list' || type === 'set') && element[2] === 'List') return [type, ELEMENT_TYPES[element[1]]];
  if (element && type === 'map' && element[2] === 'Map') return ['map', ELEMENT_TYPES[element[1]]];
  throw new SchemaParseError(`${where}: unknown attribute type ${type}/${storage}`);
}

// ------------------------------------------------------------------ building blocks

class ModuleParser {
  private readonly decls: Map<string, string>;

  constructor(source: string, private readonly where: string, private readonly isProvider: boolean) {
    this.decls = declarations(source);
  }

  /** The schema block of the module's main class (resource, data source or provider). */
  mainBlock(): SchemaBlock {
    const main = [...this.decls.entries()]
      .find(([, text]) => /^export class \w+ extends cdktf\.Terraform(Resource|DataSource|Provider) /.test(text));
    if (!main) throw new SchemaParseError(`${this.where}: no resource, data source or provider class`);
    const [name, text] = main;
    const hcl = /protected synthesizeHclAttributes\(\)[\s\S]*$/.exec(text);
    if (!hcl) throw new SchemaParseError(`${this.where}: ${name} has no synthesizeHclAttributes`);
    return this.block(hclEntries(hcl[0], `${this.where} ${name}`), members(text, `${this.where} ${name}`), name);
  }

  private block(hcl: Map<string, HclEntry>, flags: Map<string, Member>, where: string): SchemaBlock {
    const block: SchemaBlock = { attributes: {}, block_types: {} };
    const names = new Set([...hcl.keys(), ...flags.keys()]);
    for (const name of names) {
      const entry = hcl.get(name);
      const member = flags.get(name);
      const at = `${where}.${name}`;
      if (!member && !this.isProvider) throw new SchemaParseError(`${at}: in the HCL mapper but has no flags comment`);
      const settings = member ?? { computed: false, optional: true, required: false };
      const attributeFlags = {
        ...(settings.required ? { required: true } : {}),
        ...(settings.optional ? { optional: true } : {}),
        ...(settings.computed ? { computed: true } : {}),
      };
      if (entry?.nestedMapper) {
        const nested = this.nestedStruct(entry.nestedMapper, at);
        if (entry.isBlock) {
          const single = member?.getter?.kind === 'nested' && member.getter.single;
          const nesting = entry.type === 'struct' ? 'single' : entry.type;
          if (nesting !== 'single' && nesting !== 'list' && nesting !== 'set') throw new SchemaParseError(`${at}: block of type ${entry.type}`);
          block.block_types[name] = {
            nesting_mode: nesting,
            block: nested,
            ...(settings.required ? { min_items: 1 } : {}),
            ...(single && nesting === 'list' ? { max_items: 1 } : {}),
          };
        } else {
          if (entry.type !== 'list' && entry.type !== 'set') throw new SchemaParseError(`${at}: nested attribute of type ${entry.type}`);
          block.attributes[name] = { type: [entry.type, objectType(nested, at)], ...attributeFlags };
        }
      } else if (entry) {
        block.attributes[name] = { type: simpleType(entry, at), ...attributeFlags };
      } else {
        block.attributes[name] = { type: this.computedOnlyType(member!, at), ...attributeFlags };
      }
    }
    return block;
  }

  /** A nested struct: its mapper gives the structure; its OutputReference class, the flags. */
  private nestedStruct(mapper: string, where: string): SchemaBlock {
    const mapperText = this.decls.get(mapper);
    if (!mapperText) throw new SchemaParseError(`${where}: mapper ${mapper} not found`);
    const className = `${mapper[0].toUpperCase()}${mapper.slice(1).replace(/ToHclTerraform$/, '')}OutputReference`;
    const classText = this.decls.get(className);
    if (!classText && !this.isProvider) throw new SchemaParseError(`${where}: class ${className} not found`);
    return this.block(hclEntries(mapperText, where), classText ? members(classText, where) : new Map(), where);
  }

  /** The type of an attribute that only a getter describes (computed-only). */
  private computedOnlyType(member: Member, where: string): CtyType {
    const getter = member.getter;
    if (!getter) throw new SchemaParseError(`${where}: computed-only attribute without a getter`);
    if (getter.kind === 'type') return getter.type;
    const classText = this.decls.get(getter.className);
    if (!classText) throw new SchemaParseError(`${where}: class ${getter.className} not found`);
    const fields: Record<string, CtyType> = {};
    for (const [name, m] of members(classText, where)) fields[name] = this.computedOnlyType(m, `${where}.${name}`);
    const object: CtyType = ['object', fields];
    return getter.single ? object : [getter.set ? 'set' : 'list', object];
  }
}

function objectType(block: SchemaBlock, where: string): CtyType {
  if (Object.keys(block.block_types).length > 0) throw new SchemaParseError(`${where}: blocks inside a nested attribute`);
  return ['object', Object.fromEntries(Object.entries(block.attributes).map(([name, a]) => [name, a.type]))];
}

// ------------------------------------------------------------------ whole providers

/** `aws_spot_instance_request` → `spot-instance-request`; data sources are `data-<prefix>-...`. */
export function moduleName(provider: string, typeName: string, kind: 'resource' | 'data'): string {
  const rest = typeName.replace(/_/g, '-');
  return kind === 'data' ? `data-${rest}` : rest.slice(provider.length + 1);
}

function withAdditions(block: SchemaBlock, key: string): SchemaBlock {
  for (const [name, extra] of Object.entries(SCHEMA_ADDITIONS[key] ?? {})) {
    if (!block.attributes[name]) throw new SchemaParseError(`SCHEMA_ADDITIONS: ${key} has no attribute ${name}`);
    Object.assign(block.attributes[name], extra);
  }
  return block;
}

/** The schema of one resource, data source or the provider itself, from the installed package. */
export function parseModule(packageDir: string, provider: string, typeName: string, kind: 'resource' | 'data' | 'provider'): SchemaBlock {
  const module = kind === 'provider' ? 'provider' : moduleName(provider, typeName, kind);
  const source = generatedSource(packageDir, module);
  const block = new ModuleParser(source, `${provider}/${module}`, kind === 'provider').mainBlock();
  return withAdditions(block, kind === 'data' ? `data.${typeName}` : typeName);
}

export interface SchemaRequest {
  /** e.g. `aws` */
  readonly provider: string;
  /** The installed package, e.g. node_modules/@cdktf/provider-aws. */
  readonly packageDir: string;
  readonly resources: readonly string[];
  readonly dataSources: readonly string[];
}

/**
 * The schema for the types asked for. Each parsed type is cached in its own file under
 * `<cacheDir>/<provider>-<package version>/`, so a new package version parses afresh; files are
 * replaced atomically, so parallel test workers never read half a file.
 */
export function providerSchema(request: SchemaRequest, cacheDir: string): ProviderSchema {
  const version = JSON.parse(fs.readFileSync(path.join(request.packageDir, 'package.json'), 'utf8')).version as string;
  const dir = path.join(cacheDir, `${request.provider}-${version}`);
  fs.mkdirSync(dir, { recursive: true });
  const cached = (key: string, parse: () => SchemaBlock): { version: number; block: SchemaBlock } => {
    const file = path.join(dir, `${key}.json`);
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
    const entry = { version: 0, block: parse() };
    writeAtomically(file, JSON.stringify(entry));
    return entry;
  };
  const { provider, packageDir } = request;
  return {
    provider: cached('provider', () => parseModule(packageDir, provider, provider, 'provider')),
    resource_schemas: Object.fromEntries(request.resources.map((type) =>
      [type, cached(type, () => parseModule(packageDir, provider, type, 'resource'))])),
    data_source_schemas: Object.fromEntries(request.dataSources.map((type) =>
      [type, cached(`data.${type}`, () => parseModule(packageDir, provider, type, 'data'))])),
  };
}
