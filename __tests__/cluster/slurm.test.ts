/**
 * The cluster's configuration contract: slurm.conf for the configless head and the cluster.conf the
 * power-saving programs source. The real-Slurm tests (slurm-*.bats) run this same text on real daemons.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLUSTER_PROGRAMS, CLUSTER_PROGRAMS_DIR, CLUSTER_TAG_KEY, ClusterConfProps, DEFAULT_NODE_ORPHAN_MINUTES, NODE_TAG_KEY, SlurmConfProps, nodeLaunchTemplateName, nodeNames, renderClusterConf,
  renderSlurmConf,
} from '../../src/cluster/slurm';

const SLURM: SlurmConfProps = {
  clusterName: 'demo', headHostname: 'ip-10-0-0-10', nodes: 4, cpusPerNode: 128, memoryMiB: 524288, nodeIdleMinutes: 10,
};

/** slurm.conf as key -> values (a key may repeat, e.g. NodeName), comments dropped. */
function parse(conf: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of conf.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const at = line.indexOf('=');
    const key = line.slice(0, at);
    out.set(key, [...(out.get(key) ?? []), line.slice(at + 1)]);
  }
  return out;
}

const one = (conf: Map<string, string[]>, key: string): string | undefined => {
  const values = conf.get(key);
  if (values !== undefined) expect(values).toHaveLength(1);
  return values?.[0];
};

describe('renderSlurmConf', () => {
  test('makes a configless head that powers CLOUD nodes up and down through the programs', () => {
    // GIVEN / WHEN
    const conf = parse(renderSlurmConf(SLURM));
    // THEN
    expect(one(conf, 'ClusterName')).toBe('demo');
    expect(one(conf, 'SlurmctldHost')).toBe('ip-10-0-0-10');
    expect(one(conf, 'SlurmctldParameters')).toBe('enable_configless');
    expect(one(conf, 'ReturnToService')).toBe('2');
    expect(one(conf, 'PrivateData')).toBe('cloud');
    expect(one(conf, 'JobRequeue')).toBe('1');
    expect(one(conf, 'CommunicationParameters')).toBe('NoAddrCache');
    expect(one(conf, 'TreeWidth')).toBe('4');
    expect(one(conf, 'ResumeProgram')).toBe('/usr/local/lib/trainium-spot/slurm/resume.sh');
    expect(one(conf, 'SuspendProgram')).toBe('/usr/local/lib/trainium-spot/slurm/suspend.sh');
    expect(one(conf, 'ResumeFailProgram')).toBe('/usr/local/lib/trainium-spot/slurm/resume-fail.sh');
    expect(one(conf, 'AuthType')).toBe('auth/munge');
    expect(one(conf, 'ProctrackType')).toBe('proctrack/cgroup');
  });

  test('turns nodeIdleMinutes into SuspendTime seconds and keeps the default timeouts', () => {
    const conf = parse(renderSlurmConf(SLURM));
    expect(one(conf, 'SuspendTime')).toBe('600');
    expect(one(conf, 'ResumeTimeout')).toBe('900');
    expect(one(conf, 'SuspendTimeout')).toBe('120');
    expect(one(conf, 'SlurmdTimeout')).toBe('300');
    expect(one(conf, 'MessageTimeout')).toBe('10');
    expect(one(conf, 'AuthInfo')).toBe('cred_expire=120');
  });

  test('declares every node as a CLOUD node with the instance type\'s CPUs and memory, in one partition', () => {
    const conf = parse(renderSlurmConf(SLURM));
    expect(one(conf, 'NodeName')).toBe('demo-[1-4] CPUs=128 RealMemory=524288 State=CLOUD');
    expect(one(conf, 'PartitionName')).toBe('trn Nodes=demo-[1-4] Default=YES MaxTime=INFINITE State=UP');
  });

  test('names a single node without a range', () => {
    const conf = parse(renderSlurmConf({ ...SLURM, nodes: 1 }));
    expect(one(conf, 'NodeName')).toBe('demo-1 CPUs=128 RealMemory=524288 State=CLOUD');
    expect(one(conf, 'TreeWidth')).toBe('1');
  });

  test('takes the head address, paths, timeouts, user and process tracking a test host needs', () => {
    // GIVEN
    const conf = parse(renderSlurmConf({
      ...SLURM, headHostname: 'vm', headAddress: '10.201.0.1', nodeIdleMinutes: 0.25, slurmUser: 'root',
      proctrackType: 'proctrack/linuxproc', partitionName: 'loop',
      timeouts: { resumeSeconds: 30, suspendSeconds: 5, slurmdSeconds: 10, messageSeconds: 5, requeueDelaySeconds: 5 },
      paths: { stateSaveLocation: '/tmp/t/state', slurmdSpoolDir: '/tmp/t/%n/spool', programsDir: '/tmp/t/bin' },
    }));
    // THEN
    expect(one(conf, 'SlurmctldHost')).toBe('vm(10.201.0.1)');
    expect(conf.has('SlurmctldPort')).toBe(false);
    expect(one(conf, 'SuspendTime')).toBe('15');
    expect(one(conf, 'ResumeTimeout')).toBe('30');
    expect(one(conf, 'SuspendTimeout')).toBe('5');
    expect(one(conf, 'SlurmdTimeout')).toBe('10');
    expect(one(conf, 'MessageTimeout')).toBe('5');
    expect(one(conf, 'AuthInfo')).toBe('cred_expire=5');
    expect(one(conf, 'SlurmUser')).toBe('root');
    expect(one(conf, 'ProctrackType')).toBe('proctrack/linuxproc');
    expect(one(conf, 'StateSaveLocation')).toBe('/tmp/t/state');
    expect(one(conf, 'SlurmdSpoolDir')).toBe('/tmp/t/%n/spool');
    expect(one(conf, 'SlurmdPidFile')).toBe('/run/slurmd.pid');
    expect(one(conf, 'ResumeProgram')).toBe('/tmp/t/bin/resume.sh');
    expect(one(conf, 'PartitionName')).toMatch(/^loop Nodes=demo-\[1-4\] /);
  });

  test('sets SlurmctldPort only when given one (Slurm\'s own 6817 otherwise)', () => {
    expect(one(parse(renderSlurmConf({ ...SLURM, headPort: 16817 })), 'SlurmctldPort')).toBe('16817');
  });

  test.each<[string, Partial<SlurmConfProps>, RegExp]>([
    ['the port is out of range', { headPort: 65536 }, /^headPort: got 65536; a whole number from 1 to 65535$/],
    ['the cluster name has upper case', { clusterName: 'Demo' }, /^clusterName: got "Demo"; lower-case letters/],
    ['the cluster name is too long', { clusterName: 'a'.repeat(31) }, /^clusterName: .*at most 30 characters$/],
    ['there are no nodes', { nodes: 0 }, /^nodes: got 0; a whole number from 1 to 1024$/],
    ['there are too many nodes', { nodes: 1025 }, /^nodes: got 1025; a whole number from 1 to 1024$/],
    ['CPUs are fractional', { cpusPerNode: 1.5 }, /^cpusPerNode: got 1\.5; a whole number/],
    ['the idle time is not whole seconds', { nodeIdleMinutes: 0.001 }, /^nodeIdleMinutes: got 0\.001; a positive number/],
    ['the idle time is zero', { nodeIdleMinutes: 0 }, /^nodeIdleMinutes: got 0;/],
    ['the head name is a FQDN', { headHostname: 'head.example.com' }, /^headHostname: got "head\.example\.com"; a short host name/],
    ['a path is relative', { paths: { stateSaveLocation: 'state' } }, /^paths\.stateSaveLocation: got "state"; an absolute path/],
    ['a path has a space', { paths: { programsDir: '/opt/my programs' } }, /^paths\.programsDir: got "\/opt\/my programs"/],
    ['ResumeTimeout is zero', { timeouts: { resumeSeconds: 0 } }, /^timeouts\.resumeSeconds: got 0; a whole number from 1 to 65533$/],
  ])('fails when %s', (_label, change, message) => {
    expect(() => renderSlurmConf({ ...SLURM, ...change })).toThrow(message);
  });
});

describe('renderClusterConf', () => {
  const SPOT: ClusterConfProps = {
    name: 'lab', clusterName: 'demo', region: 'us-east-2', market: 'spot', placementGroupName: 'lab-nodes',
    headHost: 'ip-10-0-0-10',
  };

  /** What bash sees after sourcing the file. */
  function sourced(text: string): Record<string, string> {
    const run = spawnSync('bash', ['--norc', '-c', 'set -eu; eval "$(cat)"; for k in "${!TS_@}"; do printf "%s=%s\\n" "$k" "${!k}"; done'],
      { input: text, encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(run.stderr).toBe('');
    return Object.fromEntries(run.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }

  test('gives the programs region, launch template, market, placement group, cluster and tag keys', () => {
    expect(sourced(renderClusterConf(SPOT))).toEqual({
      TS_CLUSTER_NAME: 'demo',
      TS_REGION: 'us-east-2',
      TS_LAUNCH_TEMPLATE_NAME: 'lab-nodes',
      TS_MARKET: 'spot',
      TS_CAPACITY_RESERVATION_ID: '',
      TS_PLACEMENT_GROUP: 'lab-nodes',
      TS_CLUSTER_TAG_KEY: CLUSTER_TAG_KEY,
      TS_NODE_TAG_KEY: NODE_TAG_KEY,
      TS_HEAD_HOST: 'ip-10-0-0-10',
      TS_HEAD_PORT: '',
      TS_CAPACITY_RETRY_SECONDS: '600',
      TS_MUNGE_KEY_PARAMETER: '',
      TS_MUNGE_KEY_UNSET: '',
      TS_NODE_ORPHAN_MINUTES: '20',
    });
    expect(nodeLaunchTemplateName('lab')).toBe('lab-nodes');
    expect(NODE_TAG_KEY).toBe('slurm:node');
  });

  test('gives a Capacity Block its reservation and no placement group', () => {
    const vars = sourced(renderClusterConf({
      name: 'lab', clusterName: 'demo', region: 'us-east-2', market: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0',
    }));
    expect(vars.TS_MARKET).toBe('capacity-block');
    expect(vars.TS_CAPACITY_RESERVATION_ID).toBe('cr-0123456789abcdef0');
    expect(vars.TS_PLACEMENT_GROUP).toBe('');
    expect(vars.TS_HEAD_HOST).toBe('');
  });

  test('gives the nodes the port slurm.conf sets for slurmctld', () => {
    expect(sourced(renderClusterConf({ ...SPOT, headPort: 16817 })).TS_HEAD_PORT).toBe('16817');
  });

  test('turns capacityRetryMinutes into the seconds reconcile waits', () => {
    expect(sourced(renderClusterConf({ ...SPOT, capacityRetryMinutes: 0.5 })).TS_CAPACITY_RETRY_SECONDS).toBe('30');
  });

  test('gives the nodes their orphan limit, by default past the ResumeTimeout and SlurmdTimeout slurm.conf sets', () => {
    expect(sourced(renderClusterConf({ ...SPOT, nodeOrphanMinutes: 45 })).TS_NODE_ORPHAN_MINUTES).toBe('45');
    // A node cannot reach slurmctld until slurmd has its configuration, up to ResumeTimeout after launch; past
    // SlurmdTimeout a working slurmctld has set a silent node DOWN already.
    const conf = renderSlurmConf(SLURM);
    const seconds = (key: string) => Number(new RegExp(`^${key}=(\\d+)$`, 'm').exec(conf)![1]);
    expect(DEFAULT_NODE_ORPHAN_MINUTES).toBe(20);
    expect(DEFAULT_NODE_ORPHAN_MINUTES * 60).toBeGreaterThan(seconds('ResumeTimeout'));
    expect(DEFAULT_NODE_ORPHAN_MINUTES * 60).toBeGreaterThan(seconds('SlurmdTimeout'));
  });

  test.each<[string, Partial<ClusterConfProps>, RegExp]>([
    ['the orphan limit is no whole number of minutes', { nodeOrphanMinutes: 0.5 }, /^nodeOrphanMinutes: got 0\.5; a whole number of minutes from 1 to 1440$/],
    ['the orphan limit is 0', { nodeOrphanMinutes: 0 }, /^nodeOrphanMinutes: got 0; /],
    ['the market is unknown', { market: 'auto' as never }, /^market: got "auto"; one of spot, on-demand, capacity-block$/],
    ['a Capacity Block has no reservation', { market: 'capacity-block', placementGroupName: undefined },
      /^capacityReservationId: got undefined; required with market "capacity-block"/],
    ['a Capacity Block has a placement group', { market: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0' },
      /^placementGroupName: got "lab-nodes"; not with market "capacity-block"/],
    ['spot has a reservation', { capacityReservationId: 'cr-0123456789abcdef0' },
      /^capacityReservationId: got "cr-0123456789abcdef0"; only with market "capacity-block", not "spot"$/],
    ['the reservation id is malformed', { market: 'capacity-block', placementGroupName: undefined, capacityReservationId: 'cr-xyz' },
      /^capacityReservationId: got "cr-xyz"; cr- and 8 or 17 hex digits$/],
    ['the region is malformed', { region: 'useast' }, /^region: got "useast"; an AWS Region/],
    ['the retry time is negative', { capacityRetryMinutes: -1 }, /^capacityRetryMinutes: got -1; /],
    ['the port is 0', { headPort: 0 }, /^headPort: got 0; a whole number from 1 to 65535$/],
    ['a value would break out of its quotes', { placementGroupName: "pg'; rm -rf /" }, /^placementGroupName: got /],
  ])('fails when %s', (_label, change, message) => {
    expect(() => renderClusterConf({ ...SPOT, ...change })).toThrow(message);
  });
});

describe('the programs', () => {
  const dir = join(__dirname, '..', '..', 'src', 'userdata', 'cluster');

  test('every program slurm.conf and the stack name is a file in src/userdata/cluster, the programs executable', () => {
    for (const [role, file] of Object.entries(CLUSTER_PROGRAMS)) {
      const mode = role === 'lib' ? constants.R_OK : constants.X_OK;
      expect(() => accessSync(join(dir, file), mode)).not.toThrow();
    }
  });

  test('the reconcile timer\'s service runs the installed reconcile.sh', () => {
    const unit = readFileSync(join(dir, 'trainium-spot-slurm-reconcile.service'), 'utf8');
    expect(unit).toContain(`ExecStart=${CLUSTER_PROGRAMS_DIR}/${CLUSTER_PROGRAMS.reconcile}\n`);
  });
});

describe('nodeNames', () => {
  test('numbers the nodes from 1 as slurm.conf declares them', () => {
    expect(nodeNames('demo', 3)).toEqual(['demo-1', 'demo-2', 'demo-3']);
  });
});
