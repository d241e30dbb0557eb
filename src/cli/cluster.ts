/**
 * The cluster as the CLI finds it: its head and compute nodes by their tags in the configured region (no
 * Terraform state needed), and shell commands run on the head through SSM Run Command.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Instance } from '@aws-sdk/client-ec2';
import { CLUSTER_TAG_KEY, HEAD_TAG_KEY, NODE_TAG_KEY } from '../catalog';
import type { Config } from '../config';
import { sdk, ssmClient } from './aws';
import { describeInstances, LIVE_STATES } from './boxes';
import { CommandContext } from './command';
import { AwsCallError, CliError, UsageError } from './errors';
import { BoxState, ClusterInstance } from './report';

/** How the cluster is found, for every cluster command's help. */
export const HEAD_NOTE =
  `The cluster is found by its tags in the configured region: the head by ${CLUSTER_TAG_KEY}=<name> and\n` +
  `${HEAD_TAG_KEY}=<name> (or Name=<name>-head), the compute nodes by ${CLUSTER_TAG_KEY}=<name> and their ${NODE_TAG_KEY} tag. No Terraform state is needed.\n\n`;

/** The head's Name tag, as the cluster stack sets it. */
export const headName = (clusterName: string): string => `${clusterName}-head`;

export type ClusterSettings = NonNullable<Config['cluster']>;

/** The `cluster` key of the config, or one line saying that it has none. */
export function requireCluster(config: Config, command: string): ClusterSettings {
  if (!config.cluster) {
    throw new UsageError(command, 'the configuration has no cluster key; add "cluster": { "nodes": 2 } to it (README, "Cluster")');
  }
  return config.cluster;
}

export interface ClusterInstances {
  /** `null`: no head with the cluster's tag in the region. */
  readonly head: BoxState | null;
  /** Compute nodes, by Slurm node name. */
  readonly nodes: ClusterInstance[];
}

const tagOf = (instance: Instance, key: string): string | undefined => instance.Tags?.find((t) => t.Key === key)?.Value;

/** The head and the compute nodes of the cluster `name` in `region`, terminated ones left out. */
export async function findCluster(ctx: CommandContext, region: string, name: string): Promise<ClusterInstances> {
  const heads: BoxState[] = [];
  const nodes: ClusterInstance[] = [];
  const filters = [
    { Name: `tag:${CLUSTER_TAG_KEY}`, Values: [name] },
    { Name: 'instance-state-name', Values: LIVE_STATES },
  ];
  await describeInstances(ctx, region, { filters }, (instance, box) => {
    const slurmName = tagOf(instance, NODE_TAG_KEY);
    if (tagOf(instance, HEAD_TAG_KEY) === name || tagOf(instance, 'Name') === headName(name)) heads.push(box);
    else if (slurmName !== undefined) nodes.push({ ...box, slurmName });
  });
  // Two heads would be a second deployment of one name: the running one is the one to use.
  heads.sort((a, b) => Number(b.state === 'running') - Number(a.state === 'running') || a.instanceId.localeCompare(b.instanceId));
  nodes.sort((a, b) => a.slurmName.localeCompare(b.slurmName, 'en', { numeric: true }) || a.instanceId.localeCompare(b.instanceId));
  return { head: heads[0] ?? null, nodes };
}

/** The head, or one line naming what was looked for and how to get it. */
export function requireHead(found: ClusterInstances, name: string, region: string): BoxState {
  if (found.head) return found.head;
  throw new CliError(`no head of cluster ${name} in ${region} (tags ${CLUSTER_TAG_KEY}=${name}, Name=${headName(name)}); ` +
    'deploy it first (npx cdktf deploy trainium-spot-cluster), or give --region where it runs');
}

// ---------------------------------------------------------------------------------------------
// Commands on the head: SSM Run Command
// ---------------------------------------------------------------------------------------------

/**
 * The SSM document that runs shell commands as root on a Linux managed node; its `commands` parameter is
 * the script, one line each, and `executionTimeout` the seconds it may run. Source: Systems Manager User
 * Guide, "Running commands using the AWS-RunShellScript document" and the document's parameters,
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html#aws-runShellScript,
 * checked 2026-12-07.
 */
export const RUN_SHELL_SCRIPT = 'AWS-RunShellScript';

/**
 * SendCommand's TimeoutSeconds: how long SSM tries to deliver the command before giving up (its minimum is
 * 30). SSM API Reference, SendCommand, https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html,
 * checked 2026-12-07.
 */
const DELIVERY_TIMEOUT_SECONDS = 30;

/**
 * GetCommandInvocation's statuses that end an invocation (the others are Pending, InProgress, Delayed and
 * Cancelling). SSM API Reference, GetCommandInvocation,
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html, checked 2026-12-07.
 */
const FINAL_STATUSES = new Set(['Success', 'Failed', 'Cancelled', 'TimedOut']);

/**
 * Run Command is eventually consistent: right after SendCommand, GetCommandInvocation may answer
 * InvocationDoesNotExist ("The command ID and managed node ID you specified didn't match any invocations"),
 * https://docs.aws.amazon.com/botocore/latest/reference/services/ssm/client/exceptions/InvocationDoesNotExist.html,
 * checked 2026-12-07. Until the time is up, that means "not yet".
 */
const NOT_YET = 'InvocationDoesNotExist';

/** HeadRun's status when the wait ended before SSM reported a final status. */
const GAVE_UP = 'Waiting';

export interface HeadRun {
  readonly commandId: string;
  /** SSM's final status, e.g. `Success`, `Failed`, `TimedOut`; `Waiting` when we stopped waiting first. */
  readonly status: string;
  /** The script's exit code; -1 when it did not run. */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface HeadRunOptions {
  /** What the run is, for SSM's Comment (at most 100 characters). */
  readonly comment: string;
  /** How long to wait for the result, in milliseconds; the script may run as long (executionTimeout). */
  readonly timeoutMs: number;
  /** Milliseconds between GetCommandInvocation polls. */
  readonly intervalMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `lines` as one shell script on the head through SendCommand (AWS-RunShellScript) and waits, bounded,
 * for its result. AWS failures are thrown (AwsCallError); a script that fails or outlives the wait is a result.
 */
export async function runOnHead(ctx: CommandContext, region: string, headId: string, lines: readonly string[], options: HeadRunOptions): Promise<HeadRun> {
  const client = ssmClient(region);
  const { SendCommandCommand, GetCommandInvocationCommand } = sdk.ssm();
  const executionSeconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  const sent = await ctx.aws.call('ssm:SendCommand', region, () => client.send(new SendCommandCommand({
    DocumentName: RUN_SHELL_SCRIPT,
    InstanceIds: [headId],
    Comment: options.comment.slice(0, 100),
    TimeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
    Parameters: { commands: [...lines], executionTimeout: [String(executionSeconds)] },
  })));
  const commandId = sent.Command?.CommandId;
  if (!commandId) throw new CliError(`ssm:SendCommand in ${region} returned no command id`);
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    try {
      const out = await ctx.aws.call('ssm:GetCommandInvocation', region, () =>
        client.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: headId })));
      if (out.Status && FINAL_STATUSES.has(out.Status)) {
        return {
          commandId, status: out.Status, exitCode: out.ResponseCode ?? -1,
          stdout: out.StandardOutputContent ?? '', stderr: out.StandardErrorContent ?? '',
        };
      }
    } catch (error) {
      if (!(error instanceof AwsCallError && error.code === NOT_YET)) throw error;
    }
    if (Date.now() >= deadline) return { commandId, status: GAVE_UP, exitCode: -1, stdout: '', stderr: '' };
    const hide = ctx.aws.show(`waiting for command ${commandId} on ${headId}`);
    await sleep(options.intervalMs);
    hide();
  }
}

/** One line saying why a run on the head did not succeed, with what to look at. */
export function describeFailedRun(run: HeadRun, headId: string, region: string, timeoutMs: number): string {
  const detail = run.stderr.trim().split('\n').filter(Boolean).slice(-1)[0];
  const what = run.status === GAVE_UP
    ? `no result within ${Math.round(timeoutMs / 1000)} s`
    : `${run.status}${run.exitCode >= 0 ? `, exit ${run.exitCode}` : ''}${detail ? `: ${detail}` : ''}`;
  return `the command on the head ${headId} did not succeed (${what}); ` +
    `details: aws ssm get-command-invocation --command-id ${run.commandId} --instance-id ${headId} --region ${region}`;
}

// ---------------------------------------------------------------------------------------------
// Programs sent to the head
// ---------------------------------------------------------------------------------------------

/**
 * The text of `src/cli/remote/<file>`, a program the CLI sends to the head. `__dirname` is src/cli under jest
 * and ts-node, dist/ once esbuild bundles the CLI into dist/cli.js; the checkout holds src/ beside dist/.
 */
export function remoteProgram(file: string): string {
  const candidates = [path.join(__dirname, 'remote', file), path.join(__dirname, '..', 'src', 'cli', 'remote', file)];
  const found = candidates.find((candidate) => fs.existsSync(candidate));
  if (!found) throw new CliError(`cannot find ${file} of the CLI at ${candidates.join(' or ')}`);
  return fs.readFileSync(found, 'utf8');
}

export const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/**
 * The one line AWS-RunShellScript runs (with /bin/sh) to run `program` under bash with `args`: the program
 * travels base64-encoded, so no character of it meets a shell on the way. Every argument must be one word
 * of [A-Za-z0-9_.=+/-]: base64 itself, or a name.
 */
export function runProgramLine(program: string, args: readonly string[]): string {
  const bad = args.find((arg) => !/^[A-Za-z0-9_.=+/-]+$/.test(arg));
  if (bad !== undefined) throw new Error(`argument ${JSON.stringify(bad)} for the head is not one plain word`);
  return `echo ${base64(program)} | base64 -d | bash -s -- ${args.join(' ')}`;
}
