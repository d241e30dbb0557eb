/**
 * `trainium-spot cluster start|status|ssh|submit`: the built CLI as a child process against the fake AWS on
 * 127.0.0.1, whose EC2 knows the cluster's head and nodes by their tags and whose SSM runs commands.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SQUEUE_COMMAND } from '../../src/cli/commands/cluster-status';
import { ClusterSshReport, ClusterStartReport, ClusterStatusReport, ClusterSubmitReport } from '../../src/cli/report';
import { renderSbatch } from '../../src/cli/sbatch';
import { expectOneLine, runCli } from './cli-test-helpers';
import { expectFailure, FakeClusterInstance, useFakeAws } from './fake-aws';
import { tableCell } from './table';

jest.setTimeout(30_000);

const { fake, trainiumSpot } = useFakeAws();

let configDir: string;
beforeAll(() => {
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cluster-cli-'));
});
afterAll(() => fs.rmSync(configDir, { recursive: true, force: true }));

/** The environment of a run whose config file holds `config` (by default a 4-node spot trn1.32xlarge cluster). */
function withConfig(config: object = { cluster: { nodes: 4 } }): Record<string, string> {
  const file = path.join(configDir, `config-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  return { TRAINIUM_SPOT_CONFIG: file };
}

const HEAD: FakeClusterInstance = { id: 'i-0head', state: 'running' };
const NODE_1: FakeClusterInstance = { id: 'i-0n1', state: 'running', slurmName: 'trainium-spot-1', lifecycle: 'spot' };
const NODE_2: FakeClusterInstance = { id: 'i-0n2', state: 'pending', slurmName: 'trainium-spot-2', lifecycle: 'spot' };
const NODE_10: FakeClusterInstance = { id: 'i-0n10', state: 'running', slurmName: 'trainium-spot-10' };

/** squeue's lines, in SQUEUE_COMMAND's format. */
const SQUEUE_OUTPUT = '17|ubuntu|RUNNING|12:01|2|trainium-spot-[1-2]|train\n18|ubuntu|PENDING|0:00|4|(Resources)|big|job\n';

const NO_CLUSTER = "trainium-spot: cluster status: the configuration has no cluster key; add \"cluster\": { \"nodes\": 2 } to it (README, \"Cluster\") (see 'trainium-spot help cluster status')\n";

// ---------------------------------------------------------------------------------------------
// cluster status
// ---------------------------------------------------------------------------------------------

describe('cluster status', () => {
  test('GIVEN a running head, three nodes and a queue WHEN cluster status --output json THEN nodes by Slurm name, the queue and the cost by market', async () => {
    // GIVEN
    fake.clusterInstances = [HEAD, NODE_10, NODE_2, NODE_1];
    fake.invocation = { status: 'Success', stdout: SQUEUE_OUTPUT };
    fake.zones = { 'us-east-2': [['us-east-2c', 'use2-az3', '6.500000']] };
    // WHEN
    const run = await trainiumSpot(['cluster', 'status', '--output', 'json'], withConfig());
    // THEN
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as ClusterStatusReport;
    expect(report).toMatchObject({ command: 'cluster-status', region: 'us-east-2', name: 'trainium-spot', instanceType: 'trn1.32xlarge', market: 'spot', maxNodes: 4 });
    expect(report.head).toMatchObject({ instanceId: 'i-0head', state: 'running', instanceType: 'm7i.large', market: 'on-demand', pricePerHour: null, costPerHour: null });
    expect(report.nodes.map((n) => [n.slurmName, n.instanceId, n.state, n.instanceType, n.market, n.launchTime, n.pricePerHour, n.costPerHour])).toEqual([
      ['trainium-spot-1', 'i-0n1', 'running', 'trn1.32xlarge', 'spot', '2026-12-07T10:00:00.000Z', 6.5, 6.5],
      ['trainium-spot-2', 'i-0n2', 'pending', 'trn1.32xlarge', 'spot', '2026-12-07T10:00:00.000Z', 6.5, 0],
      ['trainium-spot-10', 'i-0n10', 'running', 'trn1.32xlarge', 'on-demand', '2026-12-07T10:00:00.000Z', 21.5, 21.5],
    ]);
    expect(report.queue).toEqual([
      { jobId: '17', name: 'train', user: 'ubuntu', state: 'RUNNING', time: '12:01', nodes: 2, nodelistOrReason: 'trainium-spot-[1-2]' },
      { jobId: '18', name: 'big|job', user: 'ubuntu', state: 'PENDING', time: '0:00', nodes: 4, nodelistOrReason: '(Resources)' },
    ]);
    expect(report).toMatchObject({ queueProblem: null, costPerHour: 28, costComplete: false, failedCalls: [] });
    // the head's type has no catalog price: said once, and left out of the sum
    expect(run.stderr).toBe('trainium-spot: warning: the catalog has no price for m7i.large (i-0head): the cost per hour leaves it out\n');
    expect(fake.sentCommands()).toEqual([{
      DocumentName: 'AWS-RunShellScript', InstanceIds: ['i-0head'], Comment: 'trainium-spot cluster status: squeue', TimeoutSeconds: 30,
      Parameters: { commands: [SQUEUE_COMMAND], executionTimeout: ['30'] },
    }]);
  });

  test('GIVEN the same cluster WHEN cluster status prints its table THEN the head line, the node rows, the queue rows and the cost show', async () => {
    fake.clusterInstances = [{ ...HEAD, type: 'trn1.2xlarge' }, NODE_1];
    fake.invocation = { status: 'Success', stdout: SQUEUE_OUTPUT };
    fake.zones = { 'us-east-2': [['us-east-2c', 'use2-az3', '0.500000']] };

    const run = await trainiumSpot(['cluster', 'status'], withConfig());

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Cluster trainium-spot in us-east-2: up to 4 trn1.32xlarge nodes (spot)\n' +
      'Head: i-0head running, trn1.2xlarge, launched 2026-12-07T10:00:00Z, $1.3438/h\nNodes:\n');
    expect(tableCell(run.stdout, 'trainium-spot-1', 'Instance')).toBe('i-0n1');
    expect(tableCell(run.stdout, 'trainium-spot-1', '$/h')).toBe('$0.5000');
    const queue = run.stdout.slice(run.stdout.indexOf('Queue:'));
    expect(tableCell(queue, '17', 'Nodelist (reason)')).toBe('trainium-spot-[1-2]');
    expect(tableCell(queue, '17', 'State')).toBe('RUNNING');
    expect(run.stdout).toContain('Cost now: $1.8438/h for 2 running instances, storage not included\n');
  });

  test('GIVEN SSM denies SendCommand WHEN cluster status THEN the queue is "-", one warning line names the action, and it exits 0', async () => {
    fake.clusterInstances = [HEAD, NODE_1];
    fake.failing = { 'AmazonSSM.SendCommand': 'denied' };

    const run = await trainiumSpot(['cluster', 'status', '--output', 'json'], withConfig());

    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as ClusterStatusReport;
    expect(report.queue).toBeNull();
    expect(report.failedCalls.map((f) => f.action)).toEqual(['ssm:SendCommand']);
    expect(report.nodes).toHaveLength(1);
    expect(run.stderr).toContain('trainium-spot: warning: queue "-": SSM could not run squeue on the head: access denied: your credentials may not call ssm:SendCommand in us-east-2');
  });

  test('GIVEN squeue fails on the head WHEN cluster status THEN the queue is "-" and the warning gives its error and the command to see more', async () => {
    fake.clusterInstances = [HEAD];
    fake.invocation = { status: 'Failed', exitCode: 1, stderr: 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n' };

    const run = await trainiumSpot(['cluster', 'status'], withConfig());

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Queue: -\n');
    expect(run.stderr).toBe('trainium-spot: warning: queue "-": the command on the head i-0head did not succeed (Failed, exit 1: ' +
      'slurm_load_jobs error: Unable to contact slurm controller (connect failure)); details: aws ssm get-command-invocation ' +
      '--command-id 0c0ffee0-0000-4000-8000-000000000001 --instance-id i-0head --region us-east-2\n' +
      'trainium-spot: warning: the catalog has no price for m7i.large (i-0head): the cost per hour leaves it out\n');
  });

  test('GIVEN SSM has not registered the invocation yet WHEN cluster status THEN it asks again until the result is there', async () => {
    fake.clusterInstances = [HEAD];
    fake.invocationLag = 1;
    fake.invocation = { status: 'Success', stdout: '' };

    const { code, stdout } = await trainiumSpot(['cluster', 'status', '--output', 'json'], withConfig());

    expect(code).toBe(0);
    expect((JSON.parse(stdout) as ClusterStatusReport).queue).toEqual([]);
    expect(fake.actions().filter((a) => a === 'AmazonSSM.GetCommandInvocation')).toHaveLength(2);
  });

  test('GIVEN the command never finishes WHEN cluster status --timeout 1 THEN it stops waiting, bounded, and says so', async () => {
    fake.clusterInstances = [HEAD];
    fake.invocation = { status: 'InProgress' };

    const started = Date.now();
    const run = await trainiumSpot(['cluster', 'status', '--timeout', '1'], withConfig());

    expect(run.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(run.stderr).toContain('queue "-": the command on the head i-0head did not succeed (no result within 1 s)');
  });

  test('GIVEN a stopped head WHEN cluster status THEN SSM is not asked, the queue is "-" with the reason, and the cost is 0', async () => {
    fake.clusterInstances = [{ ...HEAD, state: 'stopped' }];

    const run = await trainiumSpot(['cluster', 'status', '--output', 'json'], withConfig());

    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ queue: null, queueProblem: 'the head is stopped (start it with: trainium-spot cluster start)', costPerHour: 0, costComplete: true });
    expect(fake.actions()).not.toContain('AmazonSSM.SendCommand');
    expect(run.stderr).toBe('');
  });

  test('GIVEN no head in the region WHEN cluster status THEN it exits 1 and says how to deploy it', async () => {
    const run = await trainiumSpot(['cluster', 'status'], withConfig());

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('Cluster trainium-spot in us-east-2: up to 4 trn1.32xlarge nodes (spot)\n' +
      'No head of cluster trainium-spot in us-east-2. Deploy it (npx cdktf deploy trainium-spot-cluster), or pass --region.\n');
  });

  test('fails when the configuration has no cluster: one line, exit 2, AWS never asked', async () => {
    const run = await trainiumSpot(['cluster', 'status'], withConfig({}));

    expectFailure(run, NO_CLUSTER);
    expect(fake.requests).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// cluster start
// ---------------------------------------------------------------------------------------------

describe('cluster start', () => {
  test('GIVEN a stopped head WHEN cluster start THEN it starts the head, follows it to running and exits 0', async () => {
    fake.clusterInstances = [{ ...HEAD, state: 'stopped' }, { ...NODE_1, state: 'running' }];
    fake.afterStart = ['pending', 'running'];

    const run = await trainiumSpot(['cluster', 'start', '--interval', '0', '--output', 'json'], withConfig());

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as ClusterStartReport;
    expect(report).toMatchObject({ command: 'cluster-start', outcome: 'running', head: { instanceId: 'i-0head', state: 'running', statesSeen: ['stopped', 'pending', 'running'] } });
    const starts = fake.requests.filter((r) => r.action === 'StartInstances');
    expect(starts.map((r) => new URLSearchParams(r.body).get('InstanceId.1'))).toEqual(['i-0head']);
  });

  test('GIVEN a head marked by its trainium-spot:head tag (no Name) WHEN cluster start prints text THEN it names the head and the states it passed', async () => {
    fake.clusterInstances = [{ ...HEAD, state: 'stopped', headBy: 'tag' }];
    fake.afterStart = ['running'];

    const run = await trainiumSpot(['cluster', 'start', '--interval', '0'], withConfig());

    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Head i-0head of cluster trainium-spot in us-east-2: stopped -> pending -> running\n' +
      'Next: trainium-spot cluster status, trainium-spot cluster ssh, trainium-spot cluster submit -- <command>\n');
  });

  test('GIVEN a head that does not come up WHEN cluster start --timeout 0 THEN it exits 1, timed out', async () => {
    fake.clusterInstances = [{ ...HEAD, state: 'stopped' }];

    const run = await trainiumSpot(['cluster', 'start', '--timeout', '0', '--output', 'json'], withConfig());

    expect(run.code).toBe(1);
    expect((JSON.parse(run.stdout) as ClusterStartReport).outcome).toBe('timed-out');
  });

  test('fails when there is no head: one line naming the tags looked for, and StartInstances is never called', async () => {
    fake.clusterInstances = [NODE_1];

    const run = await trainiumSpot(['cluster', 'start'], withConfig());

    expectFailure(run, 'trainium-spot: no head of cluster trainium-spot in us-east-2 (tags trainium-spot:cluster=trainium-spot, ' +
      'Name=trainium-spot-head); deploy it first (npx cdktf deploy trainium-spot-cluster), or give --region where it runs\n');
    expect(fake.actions()).not.toContain('StartInstances');
  });
});

// ---------------------------------------------------------------------------------------------
// cluster ssh
// ---------------------------------------------------------------------------------------------

describe('cluster ssh', () => {
  test('GIVEN a head without a key pair WHEN cluster ssh --print THEN it is a Session Manager shell on the head', async () => {
    fake.clusterInstances = [HEAD];

    const run = await trainiumSpot(['cluster', 'ssh', '--print'], withConfig());

    expect(run.code).toBe(0);
    expect(run.stdout).toBe('aws ssm start-session --target i-0head --region us-east-2\n');
    expect(run.stderr).toBe('trainium-spot: i-0head, head of cluster trainium-spot in us-east-2\n');
  });

  test('GIVEN a head with a key pair WHEN cluster ssh --output json THEN it is ssh through Session Manager with the key, kept 0600', async () => {
    fake.clusterInstances = [{ ...HEAD, keyName: 'trainium-spot-2025' }];

    const run = await trainiumSpot(['cluster', 'ssh', '--output', 'json'], withConfig());

    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as ClusterSshReport;
    expect(report.route).toBe('ssh');
    const key = report.argv[2];
    expect(key).toMatch(/\/\.ssh\/trainium-spot-head-key-0123456789abcdef0\.pem$/);
    expect(fs.statSync(key).mode & 0o777).toBe(0o600);
    expect(report.argv).toEqual(['ssh', '-i', key, '-o', 'IdentitiesOnly=yes', '-o',
      'ProxyCommand=aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p --region us-east-2',
      '-o', 'StrictHostKeyChecking=accept-new', 'ubuntu@i-0head']);
  });

  test('fails when the head is stopped: one line saying how to start it', async () => {
    fake.clusterInstances = [{ ...HEAD, state: 'stopped' }];

    const run = await trainiumSpot(['cluster', 'ssh'], withConfig());

    expectFailure(run, 'trainium-spot: the head i-0head of cluster trainium-spot is stopped; start it with: trainium-spot cluster start\n');
  });
});

// ---------------------------------------------------------------------------------------------
// cluster submit
// ---------------------------------------------------------------------------------------------

/** The sent line's parts: `echo <program> | base64 -d | bash -s -- <user> <name> <script>`, decoded. */
function sentJob(): { program: string; user: string; name: string; script: string } {
  const [command] = fake.sentCommands()[0].Parameters.commands;
  const [, program, user, name, script] = /^echo (\S+) \| base64 -d \| bash -s -- (\S+) (\S+) (\S+)$/.exec(command)!;
  const decode = (text: string) => Buffer.from(text, 'base64').toString('utf8');
  return { program: decode(program), user, name, script: decode(script) };
}

describe('cluster submit', () => {
  const AWKWARD = ['train.py', '--name', "it's $HOME", 'a  b', '"quoted"'];

  test('GIVEN a running head WHEN a Python script with quotes, $ and spaces is submitted THEN the head gets the program and the torchrun script, and the job id is printed', async () => {
    // GIVEN
    fake.clusterInstances = [HEAD];
    fake.invocation = { status: 'Success', stdout: '4242\n', stderr: 'job script: /shared/ubuntu/jobs/train-20261207T101500Z-ab12.sbatch\n' };
    // WHEN
    const run = await trainiumSpot(['cluster', 'submit', '--nodes', '2', '--time', '1:30:00', '--', ...AWKWARD], withConfig());
    // THEN
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Submitted batch job 4242 (train, 2 nodes, torchrun) on the head i-0head of cluster trainium-spot\n' +
      'Script: /shared/ubuntu/jobs/train-20261207T101500Z-ab12.sbatch; output beside it in /shared/ubuntu/jobs/train-4242.out\n' +
      'Follow it with: trainium-spot cluster status\n');
    const job = sentJob();
    expect(job.program).toBe(fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'cli', 'remote', 'submit-job.sh'), 'utf8'));
    expect([job.user, job.name]).toEqual(['ubuntu', 'train']);
    expect(job.script).toBe(renderSbatch({ name: 'train', nodes: 2, time: '1:30:00', command: AWKWARD, processesPerNode: 32 }));
    expect(job.script.split('\n')).toEqual(expect.arrayContaining([
      '#SBATCH --nodes=2', '#SBATCH --exclusive', '#SBATCH --requeue', '#SBATCH --time=1:30:00',
      'srun --kill-on-bad-exit=1 bash -c \'exec torchrun --nnodes "$SLURM_NNODES" --node_rank "$SLURM_NODEID" --nproc_per_node 32 ' +
        '--master_addr "$MASTER_ADDR" --master_port "$MASTER_PORT" "$@"\' torchrun train.py --name \'it\'\\\'\'s $HOME\' \'a  b\' \'"quoted"\'',
    ]));
    expect(fake.sentCommands()[0]).toMatchObject({ DocumentName: 'AWS-RunShellScript', InstanceIds: ['i-0head'], Parameters: { executionTimeout: ['60'] } });
  });

  test('GIVEN a plain command and no --nodes WHEN submitted --output json THEN srun runs it on cluster.nodes nodes', async () => {
    fake.clusterInstances = [HEAD];
    fake.invocation = { status: 'Success', stdout: '77;trainium-spot\n' };

    const run = await trainiumSpot(['cluster', 'submit', '--output', 'json', '--', 'neuron-ls', '--json-output'], withConfig());

    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as ClusterSubmitReport;
    expect(report).toMatchObject({ command: 'cluster-submit', jobId: '77', jobName: 'neuron-ls', nodes: 4, launcher: 'srun', scriptPath: null });
    expect(report.script).toBe(sentJob().script);
    expect(report.script).toContain('#SBATCH --nodes=4\n');
    expect(report.script.endsWith('srun --kill-on-bad-exit=1 neuron-ls --json-output\n')).toBe(true);
  });

  test('GIVEN /shared is not mounted on the head WHEN submitted THEN its warning reaches stderr', async () => {
    fake.clusterInstances = [HEAD];
    fake.invocation = { status: 'Success', stdout: '5\n', stderr: 'warning: /shared is not mounted on the head; the job runs from /home/ubuntu, which the nodes do not share\njob script: /home/ubuntu/jobs/x.sbatch\n' };

    const run = await trainiumSpot(['cluster', 'submit', '--', 'hostname'], withConfig());

    expect(run.code).toBe(0);
    expect(run.stderr).toBe('trainium-spot: warning: /shared is not mounted on the head; the job runs from /home/ubuntu, which the nodes do not share\n');
  });

  test('fails when sbatch refuses the job: one line with sbatch\'s words and the command to see more', async () => {
    fake.clusterInstances = [HEAD];
    fake.invocation = { status: 'Failed', exitCode: 1, stderr: 'job script: /shared/ubuntu/jobs/a.sbatch\nsbatch: error: Batch job submission failed: Node count specification invalid\n' };

    const run = await trainiumSpot(['cluster', 'submit', '--', 'hostname'], withConfig());

    expectFailure(run, 'trainium-spot: the command on the head i-0head did not succeed (Failed, exit 1: sbatch: error: Batch job submission failed: ' +
      'Node count specification invalid); details: aws ssm get-command-invocation --command-id 0c0ffee0-0000-4000-8000-000000000001 ' +
      '--instance-id i-0head --region us-east-2\n');
  });

  test('fails when SSM fails: one line naming ssm:SendCommand', async () => {
    fake.clusterInstances = [HEAD];
    fake.failing = { 'AmazonSSM.SendCommand': 'http-500' };

    const run = await trainiumSpot(['cluster', 'submit', '--', 'hostname'], withConfig());

    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toContain('ssm:SendCommand in us-east-2 failed: InternalServerError');
  });

  test('fails when the head is stopped, before anything is sent', async () => {
    fake.clusterInstances = [{ ...HEAD, state: 'stopped' }];

    const run = await trainiumSpot(['cluster', 'submit', '--', 'hostname'], withConfig());

    expectFailure(run, 'trainium-spot: the head i-0head of cluster trainium-spot is stopped; start it with: trainium-spot cluster start\n');
    expect(fake.sentCommands()).toEqual([]);
  });

  test.each<[string, string[], object, string]>([
    ['--nodes is more than cluster.nodes', ['--nodes', '5', '--', 'hostname'], { cluster: { nodes: 4 } },
      "trainium-spot: cluster submit: --nodes 5 is more than cluster.nodes (4), the most compute nodes the cluster may have at once (see 'trainium-spot help cluster submit')\n"],
    ['no command follows --', ['--nodes', '1'], { cluster: { nodes: 4 } },
      "trainium-spot: cluster submit: give the command after --, e.g. trainium-spot cluster submit --nodes 2 -- train.py --epochs 3 (see 'trainium-spot help cluster submit')\n"],
    ['--time is not a Slurm time', ['--time', '2h', '--', 'hostname'], { cluster: { nodes: 4 } },
      "trainium-spot: cluster submit: --time \"2h\" is not valid; expected a Slurm time: minutes, minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes or days-hours:minutes:seconds (see 'trainium-spot help cluster submit')\n"],
    ['the configuration has no cluster', ['--', 'hostname'], {},
      "trainium-spot: cluster submit: the configuration has no cluster key; add \"cluster\": { \"nodes\": 2 } to it (README, \"Cluster\") (see 'trainium-spot help cluster submit')\n"],
  ])('fails when %s: one line, exit 2, before any AWS call', async (_case, args, config, expected) => {
    // In-process (no child process to start): these fail before any AWS client exists.
    const run = await runCli(['cluster', 'submit', ...args], { env: { AWS_REGION: 'us-east-2', ...withConfig(config) } });

    expect(run).toEqual({ code: 2, stdout: '', stderr: expected });
  });
});

describe('cluster (the group)', () => {
  test('GIVEN no subcommand WHEN cluster runs THEN it prints the group help with every subcommand and exits 0', async () => {
    const run = await trainiumSpot(['cluster']);

    expect(run.code).toBe(0);
    for (const sub of ['status', 'start', 'ssh', 'submit']) expect(run.stdout).toContain(`  cluster ${sub} `);
    expect(fake.requests).toEqual([]);
  });

  test('fails when the subcommand is unknown, listing them', async () => {
    const run = await trainiumSpot(['cluster', 'stop']);

    expectFailure(run, "trainium-spot: cluster: unknown command \"stop\"; commands: status, start, ssh, submit (see 'trainium-spot help cluster')\n");
  });
});
