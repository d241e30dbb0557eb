/**
 * AWS SDK clients as the CLI uses them: the standard credential chain and region resolution,
 * a retry budget for throttling, and one wrapper that shows progress and translates failures.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { SSMClient } from '@aws-sdk/client-ssm';
import { AwsCallSite, CliError, IamAction, translateAwsError } from './errors';
import { Progress } from './io';

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

export function ec2Client(region: string): EC2Client {
  return new EC2Client(clientConfig(region));
}

export function quotasClient(region: string): ServiceQuotasClient {
  return new ServiceQuotasClient(clientConfig(region));
}

export function ssmClient(region: string): SSMClient {
  return new SSMClient(clientConfig(region));
}

/**
 * The region a single-region command works in: the `--region` flag, else `AWS_REGION`, else what
 * the SDK resolves from the shared config profile (`AWS_PROFILE`, `region =` in ~/.aws/config).
 */
export async function resolveRegion(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string> {
  const fromFlagOrEnv = flag ?? env.AWS_REGION;
  if (fromFlagOrEnv) return fromFlagOrEnv;
  try {
    return await new EC2Client(clientConfig(undefined)).config.region();
  } catch {
    throw new CliError(
      "no AWS region: pass --region, set AWS_REGION, or set 'region' in your AWS profile",
    );
  }
}

/** Runs AWS calls with a progress line and turns their failures into one-line CLI errors. */
export class AwsCaller {
  constructor(private readonly progress: Progress) {}

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
