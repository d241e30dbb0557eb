/** Shared helpers for the CLI tests: run `main` in-process and fake AWS SDK errors. */
import { main } from '../../src/cli/main';
import type { Instance } from '@aws-sdk/client-ec2';
import { CliIo } from '../../src/cli/io';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: Record<string, string | undefined>;
  readonly isTTY?: boolean;
  /** Where cdktf.json is looked for. */
  readonly cwd?: string;
  /** Answers yes/no questions, as a person at a terminal would. */
  readonly confirm?: (question: string) => Promise<boolean>;
}

/** The region the in-process runs use unless a test passes --region or its own env. */
export const TEST_REGION = 'us-east-2';

export async function runCli(argv: string[], options: RunOptions = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: options.env ?? { AWS_REGION: TEST_REGION },
    isTTY: options.isTTY ?? false,
    cwd: options.cwd,
    confirm: options.confirm,
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** Runs with `--output json` and parses stdout. */
export async function runJson<T>(argv: string[], options: RunOptions = {}): Promise<{ code: number; json: T; stderr: string }> {
  const run = await runCli([...argv, '--output', 'json'], options);
  return { code: run.code, json: JSON.parse(run.stdout) as T, stderr: run.stderr };
}

/** An error shaped like the ones the AWS SDK throws: a name, a message, and $metadata. */
export function awsError(name: string, message = `${name} happened`, attempts = 1): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400, attempts } });
}

/** stderr must be exactly one line, without a stack trace. */
export function expectOneLine(stderr: string): void {
  expect(stderr.endsWith('\n')).toBe(true);
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
}

/** Two deployments' ids, as Terraform generates them (terraform_data's id: a random UUID). */
export const DEPLOYMENT_A = '3f2a9c1e-0b6d-4c1e-9a57-2f4b1d3e8c70';
export const DEPLOYMENT_B = '9c1b7e42-5d3a-4f60-8b21-6e0f9a4c2d18';

/**
 * A box of the default stack as DescribeInstances reports it, of deployment DEPLOYMENT_A unless `deployment`
 * names another; `null`: a box deployed before deployment ids, without that tag.
 */
export function box(overrides: Partial<Instance> & { InstanceId: string; state?: string; deployment?: string | null }): Instance {
  const { state = 'running', deployment = DEPLOYMENT_A, ...rest } = overrides;
  return {
    InstanceType: 'trn1.2xlarge',
    InstanceLifecycle: 'spot',
    State: { Name: state as never, Code: 16 },
    Placement: { AvailabilityZone: 'us-east-2c', AvailabilityZoneId: 'use2-az3' },
    PublicIpAddress: state === 'running' ? '203.0.113.10' : undefined,
    LaunchTime: new Date(Date.now() - 90 * 60_000),
    KeyName: 'trainium-spot-2025',
    Tags: [
      { Key: 'Name', Value: 'trainium-spot' }, { Key: 'ManagedBy', Value: 'trainium-spot' },
      ...(deployment === null ? [] : [{ Key: 'trainium-spot:deployment', Value: deployment }]),
    ],
    ...rest,
  };
}
