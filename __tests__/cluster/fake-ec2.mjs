#!/usr/bin/env node
// A loopback stand-in for the part of EC2 the cluster programs use, for tests only.
//
//   node fake-ec2.mjs STATE-DIR [HOOK]
//
// Listens on 127.0.0.1 and on every local address (the nodes' network namespaces reach it over their bridge), an
// ephemeral port written to STATE-DIR/port once it listens. Speaks the EC2 Query API (form-encoded POST, XML
// answers, API version 2016-11-15) for RunInstances, DescribeInstances (filters tag:KEY, instance-state-name,
// instance-id) and TerminateInstances; everything else is an error the CLI shows. Serves IMDSv2 for the
// instances: PUT /latest/api/token, GET /latest/meta-data/tags/instance/KEY and instance-id, answered for the
// instance whose private address the request comes from.
//
// Every EC2 call is appended to STATE-DIR/calls.jsonl ({action, params, outcome}) for assertions. Controls:
//   POST /_control/refuse  {"code": "InsufficientInstanceCapacity", "message": "..."}  every RunInstances fails so
//                          (HTTP 500, as EC2 answers capacity errors) until {"code": null}
//   POST /_control/lose    {"node": "demo-1"}   that node's live instance is terminated by "EC2" (a spot
//                          interruption: Server.SpotInstanceTermination)
//   GET  /_control/instances                    every instance, as JSON
// The HOOK (the test harness, not this file) is run as `HOOK launch ID NODE IP DNS`, `HOOK terminate ID NODE IP`
// and `HOOK lose ID NODE IP` and awaited before EC2's answer: it makes the "machine" (a network namespace
// running slurmd) appear and vanish. Addresses come from 10.209.0.11 up (FAKE_EC2_SUBNET, FAKE_EC2_FIRST_HOST),
// never reused within a run.
import { execFile } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';

const [stateDir, hook] = process.argv.slice(2);
if (!stateDir) {
  console.error('usage: fake-ec2.mjs STATE-DIR [HOOK]');
  process.exit(2);
}
const SUBNET = process.env.FAKE_EC2_SUBNET ?? '10.209.0';
const FIRST_HOST = Number(process.env.FAKE_EC2_FIRST_HOST ?? 11);
const LAST_HOST = 250;

/** @type {Map<string, {id: string, ip: string, dns: string, state: string, tags: Record<string, string>, reason?: {code: string, message: string}, launchTime: string, params: Record<string, string>}>} */
const instances = new Map();
let nextHost = FIRST_HOST;
let refusal = null; // {code, message}
const tokens = new Set();

const STATE_CODES = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };

const hex = (n) => randomBytes(n).toString('hex');
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const NS = 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"';

function runHook(...args) {
  if (!hook) return Promise.resolve();
  return new Promise((resolve, reject) => {
    execFile(hook, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`hook ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function record(action, params, outcome) {
  appendFileSync(`${stateDir}/calls.jsonl`, `${JSON.stringify({ time: new Date().toISOString(), action, params, outcome })}\n`);
}

// ------------------------------------------------------------------ EC2 query parameters

/** Values of a numbered list: prefix.1, prefix.2, ... */
function list(params, prefix) {
  const out = [];
  for (let i = 1; params[`${prefix}.${i}`] !== undefined || params[`${prefix}.${i}.Name`] !== undefined
    || params[`${prefix}.${i}.ResourceType`] !== undefined || params[`${prefix}.${i}.Key`] !== undefined; i++) {
    out.push(i);
  }
  return out;
}

function filtersOf(params) {
  return list(params, 'Filter').map((i) => ({
    name: params[`Filter.${i}.Name`],
    values: list(params, `Filter.${i}.Value`).map((j) => params[`Filter.${i}.Value.${j}`]),
  }));
}

function matches(instance, filter) {
  if (filter.name === 'instance-state-name') return filter.values.includes(instance.state);
  if (filter.name === 'instance-id') return filter.values.includes(instance.id);
  if (filter.name.startsWith('tag:')) {
    const value = instance.tags[filter.name.slice(4)];
    return value !== undefined && filter.values.includes(value);
  }
  throw new ClientError('InvalidParameterValue', `The filter '${filter.name}' is invalid`);
}

class ClientError extends Error {
  constructor(code, message, status = 400) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

// ------------------------------------------------------------------ XML

function instanceXml(i) {
  const tags = Object.entries(i.tags).map(([k, v]) => `<item><key>${esc(k)}</key><value>${esc(v)}</value></item>`).join('');
  const reason = i.reason ? `<stateReason><code>${esc(i.reason.code)}</code><message>${esc(i.reason.message)}</message></stateReason>` : '';
  const live = i.state !== 'terminated';
  return `<item><instanceId>${i.id}</instanceId><imageId>ami-0123456789abcdef0</imageId>`
    + `<instanceState><code>${STATE_CODES[i.state]}</code><name>${i.state}</name></instanceState>`
    + `<privateDnsName>${live ? i.dns : ''}</privateDnsName>${live ? `<privateIpAddress>${i.ip}</privateIpAddress>` : ''}`
    + `<instanceType>trn1.32xlarge</instanceType><launchTime>${i.launchTime}</launchTime>${reason}`
    + (i.params['InstanceMarketOptions.MarketType'] === 'spot' ? '<instanceLifecycle>spot</instanceLifecycle>' : '')
    + `<tagSet>${tags}</tagSet></item>`;
}

// ------------------------------------------------------------------ actions

async function runInstances(params) {
  const count = Number(params.MinCount ?? 1);
  if (count !== 1 || Number(params.MaxCount ?? 1) !== 1) {
    throw new ClientError('Unsupported', 'the stand-in launches one instance a call');
  }
  if (!params['LaunchTemplate.LaunchTemplateName'] && !params['LaunchTemplate.LaunchTemplateId']) {
    throw new ClientError('MissingParameter', 'The request must contain the parameter ImageId');
  }
  if (refusal) throw new ClientError(refusal.code, refusal.message, 500);
  if (nextHost > LAST_HOST) throw new ClientError('InsufficientFreeAddressesInSubnet', 'the stand-in subnet is full');
  const tags = {};
  for (const t of list(params, 'TagSpecification')) {
    if (params[`TagSpecification.${t}.ResourceType`] !== 'instance') continue;
    for (const k of list(params, `TagSpecification.${t}.Tag`)) {
      tags[params[`TagSpecification.${t}.Tag.${k}.Key`]] = params[`TagSpecification.${t}.Tag.${k}.Value`] ?? '';
    }
  }
  const host = nextHost++;
  const ip = `${SUBNET}.${host}`;
  const instance = {
    id: `i-${hex(8).slice(0, 17)}`, ip, dns: `ip-${ip.replace(/\./g, '-')}.ec2.internal`, state: 'pending', tags,
    launchTime: new Date().toISOString(), params,
  };
  instances.set(instance.id, instance);
  await runHook('launch', instance.id, tags['slurm:node'] ?? '', ip, instance.dns);
  return { xml: `<RunInstancesResponse ${NS}><requestId>${hex(8)}</requestId><reservationId>r-${hex(8)}</reservationId>`
    + `<ownerId>123456789012</ownerId><groupSet/><instancesSet>${instanceXml(instance)}</instancesSet></RunInstancesResponse>`,
    outcome: { instanceId: instance.id, ip } };
}

function describeInstances(params) {
  const ids = list(params, 'InstanceId').map((i) => params[`InstanceId.${i}`]);
  const filters = filtersOf(params);
  const found = [...instances.values()].filter((i) => (ids.length === 0 || ids.includes(i.id)) && filters.every((f) => matches(i, f)));
  const reservations = found.map((i) => `<item><reservationId>r-${i.id.slice(2, 10)}</reservationId><ownerId>123456789012</ownerId>`
    + `<groupSet/><instancesSet>${instanceXml(i)}</instancesSet></item>`).join('');
  return { xml: `<DescribeInstancesResponse ${NS}><requestId>${hex(8)}</requestId><reservationSet>${reservations}</reservationSet></DescribeInstancesResponse>`,
    outcome: { found: found.map((i) => i.id) } };
}

async function terminateInstances(params) {
  const ids = list(params, 'InstanceId').map((i) => params[`InstanceId.${i}`]);
  if (ids.length === 0) throw new ClientError('MissingParameter', 'The request must contain the parameter InstanceId');
  const unknown = ids.filter((id) => !instances.has(id));
  if (unknown.length > 0) throw new ClientError('InvalidInstanceID.NotFound', `The instance IDs '${unknown.join(', ')}' do not exist`);
  const items = [];
  const ending = [];
  for (const id of ids) {
    const i = instances.get(id);
    const previous = i.state;
    if (previous !== 'terminated') {
      // shutting-down while its machine goes (the hook), as EC2 shows it: terminated only with the call recorded,
      // so that no one sees the instance gone before the call that ended it is in calls.jsonl.
      i.state = 'shutting-down';
      i.reason = { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' };
      await runHook('terminate', i.id, i.tags['slurm:node'] ?? '', i.ip);
      ending.push(i);
    }
    items.push(`<item><instanceId>${id}</instanceId><currentState><code>48</code><name>terminated</name></currentState>`
      + `<previousState><code>${STATE_CODES[previous]}</code><name>${previous}</name></previousState></item>`);
  }
  // The caller records the call in the same turn of the event loop: no request is served in between.
  for (const i of ending) i.state = 'terminated';
  return { xml: `<TerminateInstancesResponse ${NS}><requestId>${hex(8)}</requestId><instancesSet>${items.join('')}</instancesSet></TerminateInstancesResponse>`,
    outcome: { terminated: ids } };
}

const ACTIONS = { RunInstances: runInstances, DescribeInstances: describeInstances, TerminateInstances: terminateInstances };

// ------------------------------------------------------------------ controls and IMDS

async function control(path, body) {
  if (path === '/_control/refuse') {
    const { code, message } = JSON.parse(body || '{}');
    refusal = code ? { code, message: message ?? `We currently do not have sufficient trn1.32xlarge capacity in the Availability Zone you requested (us-east-2a).` } : null;
    return { refusing: refusal };
  }
  if (path === '/_control/lose') {
    const { node } = JSON.parse(body || '{}');
    const i = [...instances.values()].find((x) => x.tags['slurm:node'] === node && x.state !== 'terminated');
    if (!i) throw new ClientError('NotFound', `no live instance for node ${node}`, 404);
    i.state = 'terminated';
    i.reason = { code: 'Server.SpotInstanceTermination', message: 'Server.SpotInstanceTermination: Spot instance termination' };
    await runHook('lose', i.id, node, i.ip);
    return { lost: i.id };
  }
  if (path === '/_control/instances') {
    return [...instances.values()].map(({ params, ...rest }) => ({ ...rest, launchTemplate: params['LaunchTemplate.LaunchTemplateName'] }));
  }
  throw new ClientError('NotFound', `no control ${path}`, 404);
}

function imds(req, path) {
  if (req.method === 'PUT' && path === '/latest/api/token') {
    const token = hex(16);
    tokens.add(token);
    return { status: 200, body: token };
  }
  if (!tokens.has(req.headers['x-aws-ec2-metadata-token'])) return { status: 401, body: '' };
  const address = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const i = [...instances.values()].find((x) => x.ip === address && x.state !== 'terminated');
  if (!i) return { status: 404, body: '' };
  if (path === '/latest/meta-data/instance-id') return { status: 200, body: i.id };
  const tag = path.match(/^\/latest\/meta-data\/tags\/instance\/(.+)$/);
  if (tag && i.tags[decodeURIComponent(tag[1])] !== undefined) return { status: 200, body: i.tags[decodeURIComponent(tag[1])] };
  return { status: 404, body: '' };
}

// ------------------------------------------------------------------ server

/** A launched instance is pending for its first second, then running. */
function advance() {
  const now = Date.now();
  for (const i of instances.values()) if (i.state === 'pending' && now - Date.parse(i.launchTime) >= 1000) i.state = 'running';
}

const server = createServer((req, res) => {
  advance();
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', async () => {
    const path = new URL(req.url, 'http://stand-in').pathname;
    try {
      if (path.startsWith('/latest/')) {
        const { status, body: text } = imds(req, path);
        res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
        return;
      }
      if (path.startsWith('/_control/')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(await control(path, body)));
        return;
      }
      const params = Object.fromEntries(new URLSearchParams(body));
      const action = ACTIONS[params.Action];
      if (!action) throw new ClientError('InvalidAction', `The action ${params.Action} is not valid for this web service.`);
      try {
        const { xml, outcome } = await action(params);
        record(params.Action, params, outcome);
        res.writeHead(200, { 'content-type': 'text/xml' }).end(xml);
      } catch (error) {
        record(params.Action, params, { error: error.code ?? 'InternalError', message: error.message });
        throw error;
      }
    } catch (error) {
      const status = error.status ?? 500;
      if (path.startsWith('/_control/')) {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: error.message }));
        return;
      }
      res.writeHead(status, { 'content-type': 'text/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>`
        + `<Code>${esc(error.code ?? 'InternalError')}</Code><Message>${esc(error.message)}</Message></Error></Errors>`
        + `<RequestID>${hex(8)}</RequestID></Response>`);
    }
  });
});

server.listen(0, '0.0.0.0', () => {
  writeFileSync(`${stateDir}/port`, String(server.address().port));
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
