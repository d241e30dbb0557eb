/**
 * AWS SDK clients as the CLI uses them: the standard credential chain and region resolution,
 * a retry budget for throttling, and one wrapper that shows progress and translates failures.
 */
import type * as CloudWatchSdk from '@aws-sdk/client-cloudwatch';
import type * as Ec2Sdk from '@aws-sdk/client-ec2';
import type * as QuotasSdk from '@aws-sdk/client-service-quotas';
import type * as SsmSdk from '@aws-sdk/client-ssm';
import { loadCliConfig } from './config';
import { AwsCallError, AwsCallSite, IamAction, translateAwsError } from './errors';
import { Progress } from './io';
import type { FailedCall } from './report';

/**
 * Attempts per call, the first included. Throttled calls are retried by the SDK with exponential
 * backoff and full jitter (100 ms base, 20 s cap); adaptive mode also slows our own request rate
 * once AWS throttles, which matters when one command asks several regions at once.
 */
export const MAX_ATTEMPTS = 6;
const RETRY_MODE = 'adaptive';
const CONNECTION_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The SDK warns on every run under Node 20 that its releases after January 2027 need Node 22. The
 * project supports Node 20 (package.json engines), and the multi-line warning would break the
 * one-line-per-error contract on stderr; setting the variable to anything else shows it again.
 */
function quietSdkNodeWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

const clientConfig = (region: string | undefined) => {
  quietSdkNodeWarning();
  return {
    region,
    maxAttempts: MAX_ATTEMPTS,
    retryMode: RETRY_MODE,
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
  };
};

/**
 * The SDK modules, each loaded on first use by the command that needs it: client-ec2 alone takes
 * over a second to load, which `--help` and the commands that never call EC2 should not pay. Each
 * is the part of its client the CLI uses (./sdk/), which the bundle keeps in dist/aws-sdk.js.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
export const sdk = {
  ec2: (): typeof import('./sdk/ec2') => require('./sdk/ec2'),
  quotas: (): typeof import('./sdk/service-quotas') => require('./sdk/service-quotas'),
  ssm: (): typeof import('./sdk/ssm') => require('./sdk/ssm'),
  cloudWatch: (): typeof import('./sdk/cloudwatch') => require('./sdk/cloudwatch'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

export function ec2Client(region: string): Ec2Sdk.EC2Client {
  return new (sdk.ec2().EC2Client)(clientConfig(region));
}

export function quotasClient(region: string): QuotasSdk.ServiceQuotasClient {
  return new (sdk.quotas().ServiceQuotasClient)(clientConfig(region));
}

export function ssmClient(region: string): SsmSdk.SSMClient {
  return new (sdk.ssm().SSMClient)(clientConfig(region));
}

export function cloudWatchClient(region: string): CloudWatchSdk.CloudWatchClient {
  return new (sdk.cloudWatch().CloudWatchClient)(clientConfig(region));
}

/**
 * The region a single-region command works in, by the rule the stack follows too: the `--region`
 * flag for this run, else the configured `region` (cdktf.json context, $TRAINIUM_SPOT_CONFIG,
 * TRAINIUM_SPOT_REGION, default us-east-2). AWS_REGION does not choose it.
 */
export async function resolveRegion(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string> {
  return flag ?? loadCliConfig(env).config.region;
}

/** Runs AWS calls with a progress line and turns their failures into one-line CLI errors. */
export class AwsCaller {
  constructor(private readonly progress: Progress) {}

  /** Shows `label` as progress (on a terminal) until the returned function is called. */
  show(label: string): () => void {
    return this.progress.start(label);
  }

  async call<T>(action: IamAction, region: string, run: () => Promise<T>): Promise<T> {
    const site: AwsCallSite = { action, region };
    const done = this.progress.start(`${action} in ${region}`);
    try {
      return await run();
    } catch (error) {
      throw translateAwsError(error, site);
    } finally {
      done();
    }
  }
}

/**
 * Calls whose answers only add to a report (a metric, a price, an association status): a failure
 * (denied, throttled after the retries, a 5xx, the network) leaves the answer `null` instead of
 * ending the command, and is remembered once per IAM action, however many calls of it failed, so the
 * command can print one warning line per failing kind of call.
 */
export class SecondaryCalls {
  private readonly failed = new Map<IamAction, AwsCallError>();

  constructor(private readonly aws: AwsCaller) {}

  /** The call's answer, or `null` when it failed with an AWS error. Anything else is a bug and is thrown. */
  async call<T>(action: IamAction, region: string, run: () => Promise<T>): Promise<T | null> {
    try {
      return await this.aws.call(action, region, run);
    } catch (error) {
      if (!(error instanceof AwsCallError)) throw error;
      if (!this.failed.has(action)) this.failed.set(action, error);
      return null;
    }
  }

  /** The first failure of each failing action, ordered by action so the lines are the same on every run. */
  failures(): FailedCall[] {
    return [...this.failed.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([action, error]) => ({ action, message: error.message }));
  }
}
