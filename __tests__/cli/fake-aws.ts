/**
 * A fake AWS on 127.0.0.1 and the built CLI (bin/trainium-spot.js -> dist/cli.js) run against it as
 * a child process: the support of the end-to-end CLI tests.
 *
 * Service Quotas and SSM speak JSON 1.1, CloudWatch JSON 1.0 (all by X-Amz-Target), EC2 the query
 * protocol with XML answers. Any action can be made to fail (`failing`): with an HTTP 500, or denied. The SDK sends every service to the one endpoint but signs each request
 * for its region, so the fake answers the region a request is signed for.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'trainium-spot.js');

/** The private key the fake keeps in the SSM SecureString of the box's key pair. */
export const PRIVATE_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n';
const KEY_PAIR_ID = 'key-0123456789abcdef0';
/** The account that owns the boxes (DescribeInstances' reservation ownerId). */
const ACCOUNT = '123456789012';
/** The AMI id GetParameter answers with for any parameter outside /ec2/keypair/. */
const AMI_ID = 'ami-0123456789abcdef0';

/** The deployment id a fake box carries unless it names another. */
export const FAKE_DEPLOYMENT = '3f2a9c1e-0b6d-4c1e-9a57-2f4b1d3e8c70';

export interface FakeBox {
  readonly id: string;
  state: string;
  /** EC2's state reason code. */
  readonly reason?: string;
  /** Its trainium-spot:deployment tag; `null`: none (deployed before deployment ids). @default FAKE_DEPLOYMENT */
  readonly deployment?: string | null;
}

/** One box's run of the stack's State Manager association, as DescribeInstanceAssociationsStatus lists it. */
export interface FakeAssociation {
  readonly status: 'Success' | 'Failed' | 'Pending';
  readonly detailedStatus?: string;
  readonly executionSummary?: string;
  /** @default '1' */
  readonly documentVersion?: string;
  /** Omitted when the association has not run (pending). @default a minute ago */
  readonly executionDate?: Date;
}

/** How the fake fails an action: an HTTP 500 server error, or the service's access-denied error. */
export type FakeFailure = 'http-500' | 'denied';

/** An availability zone offering trn1.2xlarge, with the spot price EC2 reports for it. */
export type FakeZone = [name: string, id: string, spotPrice: string];

/** One request the fake answered. */
export interface FakeRequest {
  /** Action (EC2) or target (JSON protocols). */
  readonly action: string;
  /** The region from the request's signature. */
  readonly region: string;
  readonly body: string;
}

export interface ChildRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const ec2Xml = (action: string, inner: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
  `<requestId>req-1</requestId>${inner}</${action}Response>`;
const items = (rows: string[]) => rows.map((row) => `<item>${row}</item>`).join('');

const STATE_CODES: Record<string, number> = { pending: 0, running: 16, stopping: 64, stopped: 80 };
const stateXml = (tag: string, name: string) => `<${tag}><code>${STATE_CODES[name]}</code><name>${name}</name></${tag}>`;

function boxXml(b: FakeBox): string {
  return `<item><instanceId>${b.id}</instanceId><instanceType>trn1.2xlarge</instanceType><instanceLifecycle>spot</instanceLifecycle>` +
    stateXml('instanceState', b.state) +
    '<placement><availabilityZone>us-east-2c</availabilityZone><availabilityZoneId>use2-az3</availabilityZoneId></placement>' +
    (b.state === 'running' ? '<ipAddress>203.0.113.10</ipAddress>' : '') +
    `<launchTime>${new Date(Date.now() - 600_000).toISOString()}</launchTime><keyName>trainium-spot-2025</keyName>` +
    (b.reason ? `<stateReason><code>${b.reason}</code><message>${b.reason}</message></stateReason>` : '') +
    '<tagSet><item><key>Name</key><value>trainium-spot</value></item><item><key>ManagedBy</key><value>trainium-spot</value></item>' +
    (b.deployment === null ? '' : `<item><key>trainium-spot:deployment</key><value>${b.deployment ?? FAKE_DEPLOYMENT}</value></item>`) +
    '</tagSet></item>';
}

/** An instance of the cluster `trainium-spot` (tag trainium-spot:cluster=trainium-spot), in us-east-2c. */
export interface FakeClusterInstance {
  readonly id: string;
  state: string;
  /** A compute node's Slurm name (its slurm:node tag and its Name); absent on the head. */
  readonly slurmName?: string;
  /** How the head is marked: its Name `trainium-spot-head`, or the tag trainium-spot:head=trainium-spot (as the stack tags it). @default 'name' */
  readonly headBy?: 'name' | 'tag';
  /** @default trn1.32xlarge for a node, m7i.large for the head */
  readonly type?: string;
  /** EC2's InstanceLifecycle (`spot`, `capacity-block`); none is on-demand. @default none */
  readonly lifecycle?: string;
  /** @default none */
  readonly keyName?: string;
}

/** What an SSM Run Command invocation ends as. */
export interface FakeInvocation {
  readonly status: 'Success' | 'Failed' | 'TimedOut' | 'Cancelled' | 'InProgress';
  readonly stdout?: string;
  readonly stderr?: string;
  /** @default 0 for Success, 1 otherwise */
  readonly exitCode?: number;
}

function clusterXml(c: FakeClusterInstance): string {
  const head = c.slurmName === undefined;
  const name = head ? (c.headBy === 'tag' ? 'login' : 'trainium-spot-head') : c.slurmName;
  return `<item><instanceId>${c.id}</instanceId><instanceType>${c.type ?? (head ? 'm7i.large' : 'trn1.32xlarge')}</instanceType>` +
    (c.lifecycle ? `<instanceLifecycle>${c.lifecycle}</instanceLifecycle>` : '') +
    stateXml('instanceState', c.state) +
    '<placement><availabilityZone>us-east-2c</availabilityZone><availabilityZoneId>use2-az3</availabilityZoneId></placement>' +
    `<launchTime>2026-12-07T10:00:00.000Z</launchTime>${c.keyName ? `<keyName>${c.keyName}</keyName>` : ''}` +
    `<tagSet><item><key>Name</key><value>${name}</value></item><item><key>trainium-spot:cluster</key><value>trainium-spot</value></item>` +
    (head && c.headBy === 'tag' ? '<item><key>trainium-spot:head</key><value>trainium-spot</value></item>' : '') +
    (head ? '' : `<item><key>slurm:node</key><value>${c.slurmName}</value></item>`) +
    '</tagSet></item>';
}

/** The state of a fake AWS; `reset()` puts back the default named on each field. */
export class FakeAws {
  /** The applied quota value GetServiceQuota answers with, or an error `__type` to fail with. @default 0 */
  quota!: number | { error: string };
  /** Per region and quota code, instead of `quota`; a missing entry answers NoSuchResourceException. @default undefined */
  quotaByRegion!: Record<string, Record<string, number>> | undefined;
  /** The stack's spot trn1.2xlarge boxes, all in us-east-2c. @default [] */
  boxes!: FakeBox[];
  /** States a started box passes through, one per DescribeInstances by id. @default [] */
  afterStart!: string[];
  /** The error code StartInstances fails with, if any. @default undefined */
  startError!: string | undefined;
  /** Name and creation date of AMI_ID, the one image DescribeImages knows. @default a Neuron PyTorch image created now */
  image!: { name: string; creationDate: string };
  /** EC2 actions answered with UnauthorizedOperation. @default [] */
  deniedEc2!: string[];
  /**
   * Actions (EC2's Action, or the X-Amz-Target of the JSON protocols, e.g.
   * `GraniteServiceVersion20100801.GetMetricStatistics`) that fail every time. @default {}
   */
  failing!: Record<string, FakeFailure>;
  /**
   * The stack's association (`trainium-spot-agent`) per box id; a box not named here ran it with
   * success, document version 1, a minute ago. `unregistered`: the box is no managed node of SSM
   * (InvalidInstanceId). @default {}
   */
  associations!: Record<string, FakeAssociation | 'unregistered'>;
  /** The availability zones offering trn1.2xlarge, per region. @default us-east-2c at 0.4031 USD per hour */
  zones!: Record<string, FakeZone[]>;
  /** The scores GetSpotPlacementScores answers with, whatever regions it is asked for. @default [] */
  scores!: [region: string, azId: string, score: number][];
  /**
   * Per region and instance type, the AZ IDs DescribeInstanceTypeOfferings answers with, filtered by the
   * types asked for; `undefined` answers trn1.2xlarge in the AZs of `zones`, whatever was asked. @default undefined
   */
  offerings!: Record<string, Record<string, string[]>> | undefined;
  /** Per region, the public parameters GetParametersByPath lists (name -> value), ten a page. @default {} */
  parameters!: Record<string, Record<string, string>>;
  /** The instances of the cluster `trainium-spot`: DescribeInstances filtered by its tag answers these. @default [] */
  clusterInstances!: FakeClusterInstance[];
  /** What every SSM Run Command invocation ends as. @default Success with no output */
  invocation!: FakeInvocation;
  /** How many GetCommandInvocation calls answer InvocationDoesNotExist before the invocation shows. @default 0 */
  invocationLag!: number;
  /** Every request answered since the last `reset()`. */
  readonly requests: FakeRequest[] = [];

  private readonly server = http.createServer((req, res) => this.answer(req, res));

  constructor() {
    this.reset();
  }

  reset(): void {
    this.quota = 0;
    this.quotaByRegion = undefined;
    this.boxes = [];
    this.afterStart = [];
    this.startError = undefined;
    this.image = { name: 'Deep Learning AMI Neuron PyTorch 2.9 (Ubuntu 24.04) 20260707', creationDate: new Date().toISOString() };
    this.deniedEc2 = [];
    this.failing = {};
    this.associations = {};
    this.zones = { 'us-east-2': [['us-east-2c', 'use2-az3', '0.403100']] };
    this.scores = [];
    this.offerings = undefined;
    this.parameters = {};
    this.clusterInstances = [];
    this.invocation = { status: 'Success' };
    this.invocationLag = 0;
    this.requests.length = 0;
  }

  /** The action or target of every request, in order. */
  actions(): string[] {
    return this.requests.map((r) => r.action);
  }

  /** The JSON bodies of SSM SendCommand requests, in order. */
  sentCommands(): { DocumentName: string; InstanceIds: string[]; Parameters: { commands: string[]; executionTimeout: string[] } }[] {
    return this.requests.filter((r) => r.action === 'AmazonSSM.SendCommand').map((r) => JSON.parse(r.body));
  }

  /** Listens on a free port of 127.0.0.1 and returns the endpoint URL. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server.close(resolve));
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const target = req.headers['x-amz-target'];
      const region = /Credential=[^/]+\/\d+\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const action = typeof target === 'string' ? target : new URLSearchParams(body).get('Action') ?? '';
      this.requests.push({ action, region, body });
      if (typeof target === 'string') this.answerJson(target, body, region, res);
      else this.answerEc2(body, region, res);
    });
  }

  private answerJson(target: string, body: string, region: string, res: http.ServerResponse): void {
    res.setHeader('content-type', target.startsWith('GraniteServiceVersion20100801.') ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1');
    const input = JSON.parse(body || '{}') as {
      QuotaCode?: string; Name?: string; InstanceId?: string; Path?: string; Recursive?: boolean; MaxResults?: number; NextToken?: string;
      Namespace?: string; Dimensions?: { Name: string; Value: string }[];
    };
    const answer = (json: unknown) => void res.end(JSON.stringify(json));
    const fail = (type: string, message: string, httpStatus = 400) => {
      res.statusCode = httpStatus;
      answer({ __type: type, message });
    };
    const failure = this.failing[target];
    if (failure === 'http-500') return fail('InternalServerError', 'We encountered an internal error. Please try again.', 500);
    if (failure === 'denied') return fail('AccessDeniedException', `User: arn:aws:iam::123456789012:user/dev is not authorized to perform: ${target}`);
    switch (target) {
      case 'ServiceQuotasV20190624.GetServiceQuota': {
        const code = input.QuotaCode ?? '';
        if (this.quotaByRegion) {
          const regional = this.quotaByRegion[region]?.[code];
          if (regional === undefined) return fail('NoSuchResourceException', 'The request failed because the specified service quota does not exist.');
          return answer({ Quota: { QuotaCode: code, QuotaName: code, Value: regional } });
        }
        if (typeof this.quota === 'object') return fail(this.quota.error, 'User: arn:aws:iam::123456789012:user/dev is not authorized');
        return answer({ Quota: { QuotaCode: 'L-6B0D517C', QuotaName: 'All Trn Spot Instance Requests', Value: this.quota } });
      }
      case 'AmazonSSM.DescribeInstanceInformation':
        return answer({
          InstanceInformationList: this.boxes.filter((b) => b.state === 'running').map((b) => ({ InstanceId: b.id, PingStatus: 'Online' })),
        });
      case 'AmazonSSM.GetParameter': {
        const name = input.Name ?? '';
        if (!name.startsWith('/ec2/keypair/')) return answer({ Parameter: { Name: name, Type: 'String', Value: AMI_ID, Version: 1 } });
        if (name !== `/ec2/keypair/${KEY_PAIR_ID}`) return fail('ParameterNotFound', `fake AWS has no parameter ${name}`);
        return answer({ Parameter: { Name: name, Type: 'SecureString', Value: PRIVATE_KEY } });
      }
      case 'AmazonSSM.GetParametersByPath': {
        const prefix = `${(input.Path ?? '').replace(/\/$/, '')}/`;
        const names = Object.keys(this.parameters[region] ?? {}).sort()
          .filter((name) => name.startsWith(prefix) && (input.Recursive || !name.slice(prefix.length).includes('/')));
        const from = Number(input.NextToken ?? 0);
        const to = from + (input.MaxResults ?? 10);
        return answer({
          Parameters: names.slice(from, to).map((name) => ({ Name: name, Type: 'String', Value: this.parameters[region][name], Version: 1 })),
          ...(to < names.length ? { NextToken: String(to) } : {}),
        });
      }
      case 'AmazonSSM.DescribeInstanceAssociationsStatus': {
        const id = input.InstanceId ?? '';
        const association = this.associations[id] ?? { status: 'Success' };
        if (association === 'unregistered') return fail('InvalidInstanceId', `Instance ${id} is not a managed node`);
        const ranAt = association.executionDate ?? (association.status === 'Pending' ? undefined : new Date(Date.now() - 60_000));
        return answer({
          InstanceAssociationStatusInfos: [{
            AssociationId: '8dfe3659-4309-493a-8755-0123456789ab', AssociationName: 'trainium-spot-agent', Name: 'trainium-spot-agent',
            AssociationVersion: '1', DocumentVersion: association.documentVersion ?? '1', InstanceId: id, Status: association.status,
            DetailedStatus: association.detailedStatus ?? association.status, ExecutionSummary: association.executionSummary,
            ...(ranAt ? { ExecutionDate: ranAt.getTime() / 1000 } : {}),
          }],
        });
      }
      case 'AmazonSSM.SendCommand':
        return answer({ Command: { CommandId: `0c0ffee0-0000-4000-8000-00000000000${this.sentCommands().length}`, Status: 'Pending' } });
      case 'AmazonSSM.GetCommandInvocation': {
        if (this.invocationLag > 0) {
          this.invocationLag -= 1;
          return fail('InvocationDoesNotExist', '');
        }
        const { status, stdout = '', stderr = '' } = this.invocation;
        const exitCode = this.invocation.exitCode ?? (status === 'Success' ? 0 : status === 'InProgress' ? -1 : 1);
        return answer({
          CommandId: (JSON.parse(body) as { CommandId: string }).CommandId, InstanceId: input.InstanceId, DocumentName: 'AWS-RunShellScript',
          Status: status, ResponseCode: exitCode, StandardOutputContent: stdout, StandardErrorContent: stderr,
        });
      }
      case 'GraniteServiceVersion20100801.GetMetricStatistics': {
        // As in CloudWatch, a box's verdict is only where the box may publish it: its own namespace.
        const id = input.Dimensions?.find((d) => d.Name === 'InstanceId')?.Value;
        const own = this.boxes.some((b) => b.id === id) && input.Namespace === `TrainiumSpot/Idle/arn:aws:ec2:${region}:${ACCOUNT}:instance/${id}`;
        return answer({ Label: 'StopVerdict', Datapoints: own ? [{ Timestamp: Date.now() / 1000 - 120, Maximum: 0 }] : [] });
      }
      default:
        return fail('IllegalArgumentException', `fake AWS does not answer ${target}`);
    }
  }

  private answerEc2(body: string, region: string, res: http.ServerResponse): void {
    res.setHeader('content-type', 'text/xml;charset=UTF-8');
    const params = new URLSearchParams(body);
    const action = params.get('Action') ?? '';
    const answer = (inner: string) => void res.end(ec2Xml(action, inner));
    const fail = (code: string, message: string, httpStatus = 400) => {
      res.statusCode = httpStatus;
      res.end(`<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>r</RequestID></Response>`);
    };
    const failure = this.failing[action] ?? (this.deniedEc2.includes(action) ? 'denied' : undefined);
    if (failure === 'http-500') return fail('InternalError', 'An internal error has occurred.', 500);
    if (failure === 'denied') return fail('UnauthorizedOperation', 'You are not authorized to perform this operation.');
    const zones = this.zones[region] ?? [];
    switch (action) {
      case 'DescribeInstances': {
        const byId = params.get('InstanceId.1');
        if (byId) {
          const next = this.afterStart.shift();
          if (next) [...this.boxes, ...this.clusterInstances].forEach((b) => (b.state = next));
          const member = this.clusterInstances.find((c) => c.id === byId);
          if (member) return answer(`<reservationSet><item><reservationId>r-2</reservationId><ownerId>${ACCOUNT}</ownerId><instancesSet>${clusterXml(member)}</instancesSet></item></reservationSet>`);
        }
        if (params.get('Filter.1.Name') === 'tag:trainium-spot:cluster') {
          const live = this.clusterInstances.filter((c) => params.get('Filter.1.Value.1') === 'trainium-spot' && c.state !== 'terminated');
          return answer(`<reservationSet><item><reservationId>r-2</reservationId><ownerId>${ACCOUNT}</ownerId><instancesSet>${live.map(clusterXml).join('')}</instancesSet></item></reservationSet>`);
        }
        const wanted = [...params.entries()].filter(([k]) => /^Filter\.\d+\.Value\.\d+$/.test(k)).map(([, v]) => v);
        const states = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'].filter((st) => wanted.includes(st));
        const shown = this.boxes.filter((b) => states.length === 0 || states.includes(b.state));
        return answer(`<reservationSet><item><reservationId>r-1</reservationId><ownerId>${ACCOUNT}</ownerId><instancesSet>${shown.map(boxXml).join('')}</instancesSet></item></reservationSet>`);
      }
      case 'StartInstances':
      case 'StopInstances': {
        if (action === 'StartInstances' && this.startError) return fail(this.startError, 'There is no Spot capacity available that matches your request.');
        const next = action === 'StartInstances' ? 'pending' : 'stopping';
        const changed = [...this.boxes, ...this.clusterInstances].filter((b) => b.id === params.get('InstanceId.1')).map((b) => {
          const item = `<instanceId>${b.id}</instanceId>${stateXml('currentState', next)}${stateXml('previousState', b.state)}`;
          b.state = next;
          return item;
        });
        return answer(`<instancesSet>${items(changed)}</instancesSet>`);
      }
      case 'DescribeKeyPairs':
        return answer(`<keySet><item><keyPairId>${KEY_PAIR_ID}</keyPairId><keyName>trainium-spot-2025</keyName></item></keySet>`);
      case 'DescribeImages': {
        const known = params.get('ImageId.1') === AMI_ID;
        const image = known
          ? [`<imageId>${AMI_ID}</imageId><name>${this.image.name}</name><architecture>x86_64</architecture>` +
            `<creationDate>${this.image.creationDate}</creationDate><rootDeviceName>/dev/sda1</rootDeviceName>` +
            '<blockDeviceMapping><item><deviceName>/dev/sda1</deviceName><ebs><snapshotId>snap-1</snapshotId><volumeSize>75</volumeSize>' +
            '</ebs></item></blockDeviceMapping>']
          : [];
        return answer(`<imagesSet>${items(image)}</imagesSet>`);
      }
      case 'GetSpotPlacementScores':
        return answer(`<spotPlacementScoreSet>${items(this.scores.map(([scored, id, score]) =>
          `<region>${scored}</region><availabilityZoneId>${id}</availabilityZoneId><score>${score}</score>`))}</spotPlacementScoreSet>`);
      case 'DescribeInstanceTypeOfferings': {
        const asked = [...params.entries()].filter(([k]) => /^Filter\.1\.Value\.\d+$/.test(k)).map(([, v]) => v);
        const offered: [string, string][] = this.offerings
          ? Object.entries(this.offerings[region] ?? {}).filter(([type]) => asked.includes(type)).flatMap(([type, ids]) => ids.map((id) => [type, id] as [string, string]))
          : zones.map(([, id]) => ['trn1.2xlarge', id]);
        return answer(`<instanceTypeOfferingSet>${items(offered.map(([type, id]) =>
          `<instanceType>${type}</instanceType><locationType>availability-zone-id</locationType><location>${id}</location>`))}</instanceTypeOfferingSet>`);
      }
      case 'DescribeAvailabilityZones':
        return answer(`<availabilityZoneInfo>${items(zones.map(([name, id]) =>
          `<zoneName>${name}</zoneName><zoneId>${id}</zoneId><regionName>${region}</regionName>`))}</availabilityZoneInfo>`);
      case 'DescribeSpotPriceHistory':
        return answer(`<spotPriceHistorySet>${items(zones.map(([name, , price]) =>
          `<instanceType>${params.get('InstanceType.1') ?? 'trn1.2xlarge'}</instanceType><productDescription>Linux/UNIX</productDescription><spotPrice>${price}</spotPrice>` +
          `<timestamp>2026-12-01T10:00:00.000Z</timestamp><availabilityZone>${name}</availabilityZone>`))}</spotPriceHistorySet><nextToken></nextToken>`);
      default:
        return fail('InvalidAction', action);
    }
  }
}

/**
 * Starts a fake AWS and a temporary HOME for this test file, resets the fake before each test, and
 * returns it with a runner of the CLI against it (dist/cli.js is bundled by the global setup).
 */
export function useFakeAws(): { fake: FakeAws; trainiumSpot: (args: string[], env?: Record<string, string>) => Promise<ChildRun> } {
  const fake = new FakeAws();
  let endpoint = '';
  let home = '';

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-e2e-'));
    endpoint = await fake.start();
  });

  afterAll(async () => {
    await fake.stop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  beforeEach(() => fake.reset());

  /** Spawns the CLI asynchronously: the fake AWS in this process must keep answering meanwhile. */
  const trainiumSpot = (args: string[], env: Record<string, string> = {}): Promise<ChildRun> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: home,
          AWS_CONFIG_FILE: path.join(home, 'no-config'),
          AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'no-credentials'),
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_ENDPOINT_URL: endpoint,
          AWS_ACCESS_KEY_ID: 'AKIAFAKEFAKEFAKE',
          AWS_SECRET_ACCESS_KEY: 'fake-secret',
          AWS_REGION: 'us-east-2',
          ...env,
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  return { fake, trainiumSpot };
}

/** The CLI refused: exit 2, nothing on stdout, and exactly this stderr (or one matching it). */
export function expectFailure(run: ChildRun, stderr: string | RegExp): void {
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  if (typeof stderr === 'string') expect(run.stderr).toBe(stderr);
  else expect(run.stderr).toMatch(stderr);
}
