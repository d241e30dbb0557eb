/**
 * Errors for people: every failure the CLI reports is one line on stderr and exit code 2.
 * AWS SDK errors are translated here, naming the IAM action and region of the call that failed.
 */

export const EXIT_OK = 0;
/** `quota`: the instance does not fit in the quota. `image`: the image would fail the plan's guards. */
export const EXIT_DOES_NOT_FIT = 1;
/** Daily commands: `status` found no box, `start` could not get one running and reachable, `stop` was declined. */
export const EXIT_NOT_DONE = 1;
/** `catalog --live`: the catalog differs from what AWS says today. */
export const EXIT_DRIFT = 1;
export const EXIT_ERROR = 2;

/**
 * A failure phrased for the person at the terminal. The message is printed as is, on one line; `details`,
 * when a choice must be listed (one line per thing to choose from), each on an indented line after it.
 */
export class CliError extends Error {
  readonly details: readonly string[];

  constructor(message: string, details: readonly string[] = []) {
    super(oneLine(message));
    this.name = 'CliError';
    this.details = details.map(oneLine);
  }
}

/** Malformed flags: says which flag, what was given and what is allowed, and where help is. */
export class UsageError extends CliError {
  constructor(command: string, problem: string) {
    super(`${command}: ${problem} (see 'trainium-spot help ${command}')`);
    this.name = 'UsageError';
  }
}

/** A failed AWS call; `code` is the AWS error name so callers can react to specific ones. */
export class AwsCallError extends CliError {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'AwsCallError';
  }
}

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

// ---------------------------------------------------------------------------------------------
// AWS error translation
// ---------------------------------------------------------------------------------------------

/** An IAM action such as `ec2:DescribeInstances`: what a denied call needs, and what we name. */
export type IamAction = `${'ec2' | 'servicequotas' | 'ssm' | 'cloudwatch'}:${string}`;

export interface AwsCallSite {
  readonly action: IamAction;
  readonly region: string;
}

const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired']);
const REJECTED = new Set([
  'AuthFailure', 'InvalidClientTokenId', 'UnrecognizedClientException', 'SignatureDoesNotMatch',
  'IncompleteSignature', 'InvalidAccessKeyId', 'InvalidSignatureException',
]);
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'UnauthorizedAccess']);
const THROTTLED = new Set([
  'Throttling', 'ThrottlingException', 'ThrottledException', 'RequestThrottled', 'RequestThrottledException',
  'RequestLimitExceeded', 'TooManyRequestsException', 'EC2ThrottledException', 'SlowDown',
]);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH']);

interface SdkErrorLike {
  readonly name?: string;
  readonly code?: string;
  readonly message?: string;
  readonly $metadata?: { readonly attempts?: number };
}

/** Turns whatever an AWS SDK call threw into one line that says what to do about it. */
export function translateAwsError(error: unknown, site: AwsCallSite): CliError {
  if (error instanceof CliError) return error;
  const err = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SdkErrorLike;
  const name = err.name ?? 'Error';
  const detail = oneLine(err.message ?? '');
  const where = `${site.action} in ${site.region}`;

  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(detail)) {
    return new AwsCallError(
      `no AWS credentials found (${detail || name}): run 'aws configure' or 'aws sso login', ` +
        'set AWS_PROFILE, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
      name,
    );
  }
  if (EXPIRED.has(name)) {
    return new AwsCallError(
      `your AWS credentials have expired (${name} calling ${where}): refresh them, e.g. 'aws sso login', and run again`,
      name,
    );
  }
  if (REJECTED.has(name)) {
    return new AwsCallError(
      `AWS rejected your credentials (${name} calling ${where}): check the access key and secret, ` +
        `or that ${site.region} is enabled for the account`,
      name,
    );
  }
  if (name === 'OptInRequired') {
    return new AwsCallError(
      `region ${site.region} is not enabled for this account (OptInRequired calling ${site.action}): ` +
        'enable it in the account settings or choose another region',
      name,
    );
  }
  if (DENIED.has(name)) {
    return new AwsCallError(
      `access denied: your credentials may not call ${site.action} in ${site.region} (${name}); ` +
        `allow the IAM action ${site.action} for your user or role`,
      name,
    );
  }
  if (THROTTLED.has(name)) {
    const attempts = err.$metadata?.attempts;
    return new AwsCallError(
      `AWS throttled ${where} (${name})${attempts ? ` after ${attempts} attempts` : ''}: ` +
        'wait a minute and run again, or query fewer regions at once',
      name,
    );
  }
  const networkCode = err.code ?? name;
  if (UNREACHABLE.has(networkCode) || name === 'TimeoutError') {
    return new AwsCallError(
      `could not reach AWS for ${where} (${networkCode}${detail ? `: ${detail}` : ''}): ` +
        `check the network and that ${site.region} is a region`,
      networkCode,
    );
  }
  return new AwsCallError(`${where} failed: ${name}${detail ? `: ${detail}` : ''}`, name);
}
