#!/usr/bin/env node
/**
 * A stand-in Terraform provider, kept resident: the harness starts it once, and Terraform attaches
 * to it through TF_REATTACH_PROVIDERS (go-plugin's reattach, gRPC tfplugin5) instead of starting a
 * provider process per provider configuration and command, so `terraform init/validate/plan/apply`
 * run on the whole stack with no network and no provider start-up.
 *
 *   node provider.cjs <schema dir> <fixture file>...
 *
 * <schema dir> holds <name>.json per provider (e.g. aws.json, tls.json), the schema in
 * `providers schema -json` shape. Each fixture file is one lane: for each lane and provider the
 * process serves plaintext gRPC on its own 127.0.0.1 port, and it prints one line on stdout, a JSON
 * object: `lanes`, each lane's TF_REATTACH_PROVIDERS value, and `state` (below). A lane's fixture
 * (quotas, AMIs, SSM parameters, subnets) is read when Terraform configures a provider, so each
 * command sees the fixture as it was written before the command started. Reattached providers run in go-plugin's test mode
 * (`Test: true`): Terraform neither starts nor stops them; the harness ends the process.
 *
 * The same process keeps state for Terraform's `http` backend (GET, POST, DELETE by path, no
 * locking), the printed line's `state` address: the local backend rewrites and syncs the whole state
 * file after every resource it applies, which grows with the square of a large root's size, while
 * the http backend writes once at the end.
 *
 * Behaviour: computed attributes the config leaves unset plan as unknown, apply invents values for
 * them (ids, ARNs, addresses), a read returns the state as it is (plus the few known quirks of the
 * real provider listed in QUIRKS), and data sources answer from the fixture. Terraform itself checks
 * the configuration against the schema (unknown arguments, types, required arguments).
 */
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { encode, decode, ExtensionCodec, ExtData } = require('@msgpack/msgpack');
const FORCE_NEW = require('./force-new.cjs');

/** The plugin protocol the stand-in speaks (tfplugin5), as go-plugin's reattach config names it. */
const APP_PROTOCOL_VERSION = 5;

function refuse(message) {
  process.stderr.write(`stand-in providers: ${message}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------- values
// cty's msgpack encoding (github.com/zclconf/go-cty, cty/msgpack): objects are maps, lists and
// sets arrays, null is nil; an unknown value is extension 0 (fixext1 0xd4 0x00 0x00), and an
// unknown carrying refinements (nullness, prefixes, bounds) is extension 12.
const UNKNOWN = Symbol('unknown');
const extensions = new ExtensionCodec();
for (const type of [0, 12]) {
  extensions.register({
    type,
    encode: () => null,
    decode: () => UNKNOWN,
  });
}
const fromMsgpack = (bytes) => (bytes && bytes.length ? decode(bytes, { extensionCodec: extensions }) : null);
const toMsgpack = (value) => encode(markUnknowns(value), { extensionCodec: extensions });

function markUnknowns(value) {
  if (value === UNKNOWN) return new ExtData(0, new Uint8Array([0]));
  if (Array.isArray(value)) return value.map(markUnknowns);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, markUnknowns(v)]));
  }
  return value;
}

/** A DynamicValue from a request: msgpack, or JSON (raw states). */
function dynamicValue(dv) {
  if (!dv) return null;
  if (dv.msgpack && dv.msgpack.length) return fromMsgpack(dv.msgpack);
  if (dv.json && dv.json.length) return JSON.parse(Buffer.from(dv.json).toString('utf8'));
  return null;
}

/** A value completed to its schema: every attribute and block present, absent ones null or empty. */
function conform(block, value) {
  if (value === null || value === undefined) return null;
  if (value === UNKNOWN) return UNKNOWN;
  const out = {};
  for (const [name, attribute] of Object.entries(block.attributes ?? {})) {
    out[name] = conformType(attribute.type, value[name]);
  }
  for (const [name, nested] of Object.entries(block.block_types ?? {})) {
    const v = value[name];
    if (nested.nesting_mode === 'single') out[name] = v === undefined ? null : conform(nested.block, Array.isArray(v) ? v[0] : v);
    else if (v === UNKNOWN) out[name] = UNKNOWN;
    else out[name] = (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]).map((e) => conform(nested.block, e));
  }
  return out;
}

function conformType(type, value) {
  if (value === undefined || value === null) return null;
  if (value === UNKNOWN || typeof type === 'string') return value;
  const [kind, inner] = type;
  if (kind === 'list' || kind === 'set') return value.map((e) => conformType(inner, e));
  if (kind === 'map') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, conformType(inner, v)]));
  if (kind === 'object') return Object.fromEntries(Object.keys(inner).map((k) => [k, conformType(inner[k], value[k])]));
  throw new Error(`stand-in: type ${JSON.stringify(type)} is not supported`);
}

function schemaOf(provider, kind, typeName) {
  const table = kind === 'data' ? provider.schema.data_source_schemas : provider.schema.resource_schemas;
  const entry = table[typeName];
  if (!entry) throw new Error(`stand-in ${provider.name}: no schema for ${kind} ${typeName}`);
  return entry.block;
}

// ---------------------------------------------------------------------------------- invented values
let serial = 0;
const hex = (n) => crypto.randomBytes(n).toString('hex');

/** Resource ids as AWS shapes them, by resource type. */
const ID_PREFIXES = {
  aws_instance: 'i-', aws_spot_instance_request: 'sir-', aws_vpc: 'vpc-', aws_subnet: 'subnet-',
  aws_security_group: 'sg-', aws_default_security_group: 'sg-', aws_internet_gateway: 'igw-',
  aws_route_table: 'rtb-', aws_route_table_association: 'rtbassoc-', aws_key_pair: 'key-',
  aws_vpc_security_group_ingress_rule: 'sgr-', aws_vpc_security_group_egress_rule: 'sgr-', aws_ebs_volume: 'vol-',
};

/** What one configured provider instance (one gRPC connection) knows: its config and its lane's fixture. */
function region(session) {
  return session.config.region || session.fixture.region || 'us-east-2';
}

function inventString(typeName, name, state, session) {
  if (name === 'id') return `${ID_PREFIXES[typeName] ?? `${typeName.replace(/^[a-z]+_/, '')}-`}${hex(8)}`;
  if (name === 'arn') return `arn:aws:standin:${region(session)}:123456789012:${typeName}/${state.id ?? hex(4)}`;
  if (name === 'spot_instance_id' || name === 'instance_id') return `i-${hex(8)}`;
  if (name === 'key_pair_id') return `key-${hex(8)}`;
  if (name === 'public_ip') return `198.51.100.${(serial++ % 250) + 1}`;
  if (name === 'private_ip') return `10.42.0.${(serial++ % 250) + 4}`;
  if (name === 'availability_zone') return session.fixture.availabilityZone ?? `${region(session)}a`;
  if (name === 'public_key_openssh') return `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${hex(16)} stand-in\n`;
  if (name.startsWith('private_key')) return `-----BEGIN PRIVATE KEY-----\nstand-in ${hex(8)}\n-----END PRIVATE KEY-----\n`;
  if (typeof state[`${name}_prefix`] === 'string') return `${state[`${name}_prefix`]}${hex(6)}`;
  return `stand-in-${name}-${hex(3)}`;
}

function inventValue(typeName, name, type, state, session) {
  if (type === 'string') return inventString(typeName, name, state, session);
  if (type === 'number') return 0;
  if (type === 'bool') return false;
  const kind = type[0];
  if (kind === 'list' || kind === 'set') return [];
  if (kind === 'map') return {};
  return null;
}

/** Replaces every unknown left in a planned value with an invented one. */
function settle(typeName, block, value, session) {
  if (value === null || value === UNKNOWN) return value;
  const out = { ...value };
  // `id` first: an ARN names it.
  const names = Object.keys(block.attributes ?? {}).sort((a, b) => (a === 'id' ? -1 : b === 'id' ? 1 : 0));
  for (const name of names) {
    if (out[name] === UNKNOWN) out[name] = inventValue(typeName, name, block.attributes[name].type, out, session);
  }
  for (const [name, nested] of Object.entries(block.block_types ?? {})) {
    if (out[name] === UNKNOWN) out[name] = nested.nesting_mode === 'single' ? null : [];
    else if (Array.isArray(out[name])) out[name] = out[name].map((e) => settle(typeName, nested.block, e, session));
    else if (out[name]) out[name] = settle(typeName, nested.block, out[name], session);
  }
  return out;
}

// ---------------------------------------------------------------------------------- planning
/** A new object: computed attributes the config leaves null become unknown; write-only ones stay null. */
function planCreate(block, proposed) {
  if (proposed === null || proposed === UNKNOWN) return proposed;
  const out = { ...proposed };
  for (const [name, attribute] of Object.entries(block.attributes ?? {})) {
    if (attribute.write_only) out[name] = null;
    else if (attribute.computed && out[name] === null) out[name] = UNKNOWN;
  }
  for (const [name, nested] of Object.entries(block.block_types ?? {})) {
    if (Array.isArray(out[name])) out[name] = out[name].map((e) => planCreate(nested.block, e));
    else if (out[name] && out[name] !== UNKNOWN) out[name] = planCreate(nested.block, out[name]);
  }
  return out;
}

const isKnownMap = (v) => v && v !== UNKNOWN && typeof v === 'object' && Object.values(v).every((x) => x !== UNKNOWN);

/** tags_all is the provider's default tags under the resource's own, as the AWS provider plans it. */
function planTagsAll(block, planned, session) {
  if (!planned || !block.attributes?.tags_all || !block.attributes?.tags) return planned;
  const defaults = session.config.default_tags?.[0]?.tags ?? {};
  const tags = planned.tags ?? {};
  if (!isKnownMap(tags) || !isKnownMap(defaults)) return { ...planned, tags_all: UNKNOWN };
  return { ...planned, tags_all: { ...defaults, ...tags } };
}

/**
 * Arguments whose change replaces the resource, as the providers' own schemas flag them
 * (force-new.cjs, with the source file of each type). A type missing from that table fails loudly,
 * so a new resource type in the stack cannot plan as updatable by accident.
 */
function replacedBy(typeName, block, prior, planned) {
  if (!prior || !planned) return [];
  const rule = FORCE_NEW[typeName];
  if (!rule) throw new Error(`stand-in: no force-new entry for ${typeName} in force-new.cjs: add it from the provider's source`);
  const paths = [...rule.forceNew];
  if (rule.everyArgumentBut) {
    const isArgument = (name) => !block.attributes?.[name] || block.attributes[name].optional || block.attributes[name].required;
    paths.push(...[...Object.keys(block.attributes ?? {}), ...Object.keys(block.block_types ?? {})]
      .filter((name) => isArgument(name) && !rule.everyArgumentBut.includes(name)));
  }
  const replaced = paths.flatMap((path) => changedAt(block, prior, planned, path.split('.'), []));
  if (rule.whichOneIsSet) {
    const setOnes = (value) => rule.whichOneIsSet.filter((name) => value[name] !== null && value[name] !== undefined).join();
    if (setOnes(prior) !== setOnes(planned)) replaced.push(...rule.whichOneIsSet.map((name) => [{ attribute_name: name }]));
  }
  return replaced.map((steps) => ({ steps }));
}

const same = (a, b) => JSON.stringify(markUnknowns(a ?? null)) === JSON.stringify(markUnknowns(b ?? null));
const elementsOf = (value) => (value === null || value === undefined ? [] : Array.isArray(value) ? value : [value]);

/**
 * The attribute paths (tfplugin5 steps) at which `names` changed between two objects of `block`,
 * read the way terraform-plugin-sdk v2 diffs (helper/schema/schema.go, diffList): a block named last
 * changes when its number of elements does (or becomes unknown); a name inside a block is compared
 * in each element by index, a missing element reading as null; an attribute changes when its value
 * does, an unknown new value included (the SDK plans it NewComputed, and RequiresNew when ForceNew).
 */
function changedAt(block, prior, planned, names, steps) {
  const [name, ...rest] = names;
  const here = [...steps, { attribute_name: name }];
  const nested = block.block_types?.[name];
  const before = prior?.[name] ?? null;
  const after = planned?.[name] ?? null;
  if (!nested) return rest.length === 0 && !same(before, after) ? [here] : [];
  if (after === UNKNOWN) return [here];
  const [old, now] = [elementsOf(before), elementsOf(after)];
  if (rest.length === 0) return old.length === now.length ? [] : [here];
  return Array.from({ length: Math.max(old.length, now.length) }, (_, i) =>
    changedAt(nested.block, old[i] ?? null, now[i] ?? null, rest, nested.nesting_mode === 'single' ? here : [...here, { element_key_int: i }])).flat();
}

// ---------------------------------------------------------------------------------- quirks
/**
 * Behaviour of the real AWS provider 6.25.0 that the stack must survive, reproduced on purpose
 * (from a review of the provider source):
 * - aws_instance: reading an instance that has no spot request sets instance_market_options to
 *   null, whatever it was launched with (resourceInstanceRead; reported fixed after 6.25 in PR
 *   #48701), so a Capacity Block box sees its market_type vanish on every refresh.
 * - aws_spot_instance_request: availability_zone stays unset when the request carries no Placement
 *   (the provider only copies it from the request's launch specification).
 */
const QUIRKS = {
  read: {
    aws_instance: (state) => {
      const market = state.instance_market_options;
      if (Array.isArray(market) && market.length > 0 && market[0].market_type !== 'spot') {
        return { ...state, instance_market_options: [] };
      }
      return state;
    },
  },
  apply: {
    aws_spot_instance_request: (state, planned) =>
      (planned.availability_zone === UNKNOWN ? { ...state, availability_zone: null } : state),
  },
};

// ---------------------------------------------------------------------------------- data sources
function fixtureError(message) {
  return { severity: 'ERROR', summary: 'Stand-in fixture', detail: message };
}

function policyDocument(config) {
  const statements = (config.statement ?? []).map((s) => ({
    Effect: s.effect ?? 'Allow',
    Action: s.actions,
    Resource: s.resources,
    Principal: (s.principals ?? []).length ? Object.fromEntries(s.principals.map((p) => [p.type === 'Service' ? 'Service' : 'AWS', p.identifiers])) : undefined,
    Condition: (s.condition ?? []).length ? Object.fromEntries(s.condition.map((c) => [c.test, { [c.variable]: c.values }])) : undefined,
  }));
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

/** Values the fixture gives a data source, or an error diagnostic naming what is missing. */
const DATA_SOURCES = {
  aws_servicequotas_service_quota: (config, { fixture }) => {
    const value = fixture.quotas?.[config.quota_code];
    if (typeof value !== 'number') return { error: `no quota value for ${config.quota_code} in the fixture` };
    return { value, quota_name: `stand-in ${config.quota_code}`, adjustable: true, global_quota: false, default_value: 0 };
  },
  aws_ssm_parameter: (config, session) => {
    const value = session.fixture.ssmParameters?.[config.name];
    if (typeof value !== 'string') return { error: `no SSM parameter ${config.name} in the fixture` };
    return { value, insecure_value: value, type: 'String', version: 1, arn: `arn:aws:ssm:${region(session)}::parameter${config.name}` };
  },
  aws_ami: (config, { fixture }) => {
    // EC2's filters: `image-id` by value, `name` as a glob (only `*` is used by the stack).
    const filters = config.filter ?? [];
    const matches = (filter, id, ami) => {
      if (filter.name === 'image-id') return filter.values.includes(id);
      if (filter.name === 'name') return filter.values.some((glob) => new RegExp(`^${glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(ami.name));
      return true;
    };
    const found = Object.entries(fixture.amis ?? {}).filter(([id, ami]) => filters.every((f) => matches(f, id, ami)));
    if (found.length === 0) return { error: `no AMI in the fixture matches ${JSON.stringify(filters)}` };
    if (found.length > 1 && !config.most_recent) return { error: `several AMIs in the fixture match ${JSON.stringify(filters)}` };
    const [id, ami] = found[0];
    return { id, image_id: id, name: ami.name, architecture: ami.architecture, root_device_name: ami.root_device_name, block_device_mappings: ami.block_device_mappings };
  },
  aws_partition: () => ({ id: 'aws', partition: 'aws', dns_suffix: 'amazonaws.com', reverse_dns_prefix: 'com.amazonaws' }),
  aws_caller_identity: () => ({ id: '123456789012', account_id: '123456789012', arn: 'arn:aws:iam::123456789012:user/stand-in', user_id: 'AIDASTANDINEXAMPLE' }),
  aws_subnet: (config, { fixture }) => {
    const subnet = fixture.subnets?.[config.id];
    if (!subnet) return { error: `no subnet ${config.id} in the fixture` };
    return { ...subnet, id: config.id };
  },
  aws_iam_policy_document: (config) => {
    const json = policyDocument(config);
    return { json, minified_json: json, id: crypto.createHash('sha256').update(json).digest('hex').slice(0, 10) };
  },
};

function readDataSource(provider, session, typeName, config) {
  const block = schemaOf(provider, 'data', typeName);
  const answer = DATA_SOURCES[typeName]?.(config, session) ?? {};
  if (answer.error) return { diagnostics: [fixtureError(`${typeName}: ${answer.error}`)] };
  const merged = { ...config };
  for (const [name, value] of Object.entries(answer)) if (name in (block.attributes ?? {})) merged[name] = value;
  return { state: settle(typeName, block, planCreate(block, conform(block, merged)), session) };
}

// ---------------------------------------------------------------------------------- the service
function protoSchema(block) {
  const attributes = Object.entries(block.attributes ?? {}).map(([name, a]) => ({
    name,
    type: Buffer.from(JSON.stringify(a.type)),
    required: Boolean(a.required),
    optional: Boolean(a.optional),
    computed: Boolean(a.computed),
    sensitive: Boolean(a.sensitive),
    write_only: Boolean(a.write_only),
  }));
  const NESTING = { single: 'SINGLE', list: 'LIST', set: 'SET', map: 'MAP', group: 'GROUP' };
  const block_types = Object.entries(block.block_types ?? {}).map(([name, b]) => ({
    type_name: name,
    block: protoSchema(b.block),
    nesting: NESTING[b.nesting_mode],
    min_items: b.min_items ?? 0,
    max_items: b.max_items ?? 0,
  }));
  return { version: 0, attributes, block_types };
}

const schemaMessage = (entry) => ({ version: entry.version ?? 0, block: protoSchema(entry.block) });
const dyn = (value) => ({ msgpack: Buffer.from(toMsgpack(value)) });

function guard(handler) {
  return (call, callback) => {
    try {
      callback(null, handler(call.request, call));
    } catch (err) {
      callback(null, { diagnostics: [{ severity: 'ERROR', summary: 'Stand-in provider error', detail: String(err.stack ?? err) }] });
    }
  };
}

/**
 * get_provider_schema_optional: Terraform may skip GetProviderSchema on a new connection once it has
 * the schema of this provider (as providers built on terraform-plugin-framework declare).
 */
const CAPABILITIES = { plan_destroy: false, get_provider_schema_optional: true, move_resource_state: false };

/**
 * The tfplugin5 Provider service of one provider in one lane. Terraform opens one connection per
 * provider configuration and command (a child module's own `provider` block is its own instance),
 * so what Configure sets is kept per connection (the gRPC peer), never shared between instances or
 * between commands running at the same time.
 */
function providerService(provider, fixtureFile) {
  const { schema } = provider;
  const sessions = new Map();
  let schemaResponse;
  const sessionOf = (call) => {
    const session = sessions.get(call.getPeer());
    if (!session) throw new Error(`stand-in ${provider.name}: called before Configure on ${call.getPeer()}`);
    return session;
  };
  return {
    GetMetadata: guard(() => ({
      server_capabilities: CAPABILITIES,
      resources: Object.keys(schema.resource_schemas).map((type_name) => ({ type_name })),
      data_sources: Object.keys(schema.data_source_schemas).map((type_name) => ({ type_name })),
    })),
    GetSchema: guard(() => {
      schemaResponse ??= {
        provider: schemaMessage(schema.provider),
        resource_schemas: Object.fromEntries(Object.entries(schema.resource_schemas).map(([k, v]) => [k, schemaMessage(v)])),
        data_source_schemas: Object.fromEntries(Object.entries(schema.data_source_schemas).map(([k, v]) => [k, schemaMessage(v)])),
        server_capabilities: CAPABILITIES,
      };
      return schemaResponse;
    }),
    PrepareProviderConfig: guard((req) => ({ prepared_config: req.config })),
    ValidateResourceTypeConfig: guard(() => ({ diagnostics: [] })),
    ValidateDataSourceConfig: guard(() => ({ diagnostics: [] })),
    ValidateEphemeralResourceConfig: guard(() => ({ diagnostics: [] })),
    Configure: guard((req, call) => {
      sessions.set(call.getPeer(), { config: dynamicValue(req.config) ?? {}, fixture: JSON.parse(fs.readFileSync(fixtureFile, 'utf8')) });
      return { diagnostics: [] };
    }),
    UpgradeResourceState: guard((req) => {
      const block = schemaOf(provider, 'resource', req.type_name);
      const raw = req.raw_state?.json?.length ? JSON.parse(Buffer.from(req.raw_state.json).toString('utf8')) : null;
      return { upgraded_state: dyn(conform(block, raw)) };
    }),
    ReadResource: guard((req) => {
      const state = dynamicValue(req.current_state);
      const quirk = QUIRKS.read[req.type_name];
      return { new_state: dyn(state && quirk ? quirk(state) : state), private: req.private };
    }),
    PlanResourceChange: guard((req, call) => {
      const block = schemaOf(provider, 'resource', req.type_name);
      const prior = dynamicValue(req.prior_state);
      const proposed = dynamicValue(req.proposed_new_state);
      if (proposed === null) return { planned_state: dyn(null) };
      const planned = planTagsAll(block, prior === null ? planCreate(block, proposed) : proposed, sessionOf(call));
      return { planned_state: dyn(planned), requires_replace: replacedBy(req.type_name, block, prior, planned), planned_private: req.prior_private };
    }),
    ApplyResourceChange: guard((req, call) => {
      const planned = dynamicValue(req.planned_state);
      if (planned === null) return { new_state: dyn(null) };
      const block = schemaOf(provider, 'resource', req.type_name);
      let state = settle(req.type_name, block, planned, sessionOf(call));
      const quirk = QUIRKS.apply[req.type_name];
      if (quirk) state = quirk(state, planned);
      return { new_state: dyn(state), private: req.planned_private };
    }),
    ImportResourceState: guard((req) => {
      const block = schemaOf(provider, 'resource', req.type_name);
      return { imported_resources: [{ type_name: req.type_name, state: dyn(conform(block, { id: req.id })) }] };
    }),
    MoveResourceState: guard(() => ({
      diagnostics: [{ severity: 'ERROR', summary: 'Stand-in provider', detail: 'moving resource state is not supported' }],
    })),
    ReadDataSource: guard((req, call) => {
      const result = readDataSource(provider, sessionOf(call), req.type_name, dynamicValue(req.config));
      return result.diagnostics ? { diagnostics: result.diagnostics } : { state: dyn(result.state) };
    }),
    OpenEphemeralResource: guard(() => ({ diagnostics: [fixtureError('ephemeral resources are not supported')] })),
    RenewEphemeralResource: guard(() => ({})),
    CloseEphemeralResource: guard(() => ({})),
    GetFunctions: guard(() => ({ functions: {} })),
    CallFunction: guard(() => ({ error: { text: 'the stand-in has no functions' } })),
    Stop: guard(() => ({ Error: '' })),
  };
}

// ---------------------------------------------------------------------------------- serving
// The harness bundles this file with esbuild and writes the protocol definitions (proto/) beside the
// bundle as one JSON descriptor.
const DESCRIPTOR = JSON.parse(fs.readFileSync(path.join(__dirname, 'proto-descriptor.json'), 'utf8'));
const PROTOS = grpc.loadPackageDefinition(protoLoader.fromJSON(DESCRIPTOR, {
  keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
}));

/** One gRPC server for one provider in one lane, with the services go-plugin's client expects. */
function serve(provider, fixtureFile) {
  const server = new grpc.Server();
  server.addService(PROTOS.tfplugin5.Provider.service, providerService(provider, fixtureFile));
  server.addService(PROTOS.plugin.GRPCController.service, {
    // Only a client that owns the plugin asks it to stop; this process is shared, so it stays up.
    Shutdown: (_call, callback) => callback(null, {}),
  });
  server.addService(PROTOS.plugin.GRPCStdio.service, {
    // Nothing is written to stdio; keep the stream open.
    StreamStdio: () => {},
  });
  server.addService(PROTOS.plugin.GRPCBroker.service, {
    StartStream: (call) => call.on('data', () => {}),
  });
  server.addService(PROTOS.grpc.health.v1.Health.service, {
    Check: (_call, callback) => callback(null, { status: 'SERVING' }),
    List: (_call, callback) => callback(null, { statuses: { plugin: { status: 'SERVING' } } }),
    Watch: (call) => call.write({ status: 'SERVING' }),
  });
  return new Promise((resolve) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) refuse(`cannot listen: ${err.message}`);
      resolve(port);
    });
  });
}

/** go-plugin's ReattachConfig of one provider (github.com/hashicorp/go-plugin, client.go). */
const reattachConfig = (port) => ({
  Protocol: 'grpc', ProtocolVersion: APP_PROTOCOL_VERSION, Pid: process.pid, Test: true,
  Addr: { Network: 'tcp', String: `127.0.0.1:${port}` },
});

/** State documents by URL path, for the http backend (terraform's internal/backend/remote-state/http). */
function serveState() {
  const states = new Map();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && states.has(req.url)) res.writeHead(200, { 'Content-Type': 'application/json' }).end(states.get(req.url));
      else if (req.method === 'GET') res.writeHead(404).end();
      else if (req.method === 'POST') res.writeHead(200).end(void states.set(req.url, Buffer.concat(chunks)));
      else if (req.method === 'DELETE') res.writeHead(200).end(void states.delete(req.url));
      else res.writeHead(405).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

async function main() {
  // The harness ends the process with SIGTERM: exit normally, so Node's exit hooks run.
  process.on('SIGTERM', () => process.exit(0));
  const [schemaDir, ...fixtureFiles] = process.argv.slice(2);
  if (!schemaDir || fixtureFiles.length === 0) refuse('usage: provider.cjs <schema dir> <fixture file>...');
  const providers = fs.readdirSync(schemaDir).filter((f) => f.endsWith('.json')).sort().map((file) => ({
    name: path.basename(file, '.json'),
    schema: JSON.parse(fs.readFileSync(path.join(schemaDir, file), 'utf8')),
  }));
  const lanes = [];
  for (const fixtureFile of fixtureFiles) {
    const lane = {};
    for (const provider of providers) {
      lane[`registry.terraform.io/hashicorp/${provider.name}`] = reattachConfig(await serve(provider, fixtureFile));
    }
    lanes.push(JSON.stringify(lane));
  }
  process.stdout.write(`${JSON.stringify({ lanes, state: await serveState() })}\n`);
}

main();
