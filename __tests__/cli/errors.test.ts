import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AccessDeniedException, GetServiceQuotaCommand, ServiceQuotasClient, TooManyRequestsException } from '@aws-sdk/client-service-quotas';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { ec2Client, MAX_ATTEMPTS, quotasClient } from '../../src/cli/aws';
import { awsError, expectOneLine, runCli } from './cli-test-helpers';
import { COMMANDS } from '../../src/cli/main';

const COMMAND_NAMES = COMMANDS.map((c) => c.name).join(', ');

const ec2 = mockClient(EC2Client);
const quotas = mockClient(ServiceQuotasClient);

beforeEach(() => {
  ec2.reset();
  quotas.reset();
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 16 } });
});

/** Runs `quota` with the Service Quotas call failing as given. */
async function quotaFailingWith(error: Error) {
  quotas.on(GetServiceQuotaCommand).rejects(error);
  const run = await runCli(['quota']);
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expectOneLine(run.stderr);
  return run.stderr;
}

// ---------------------------------------------------------------------------------------------
// AWS errors
// ---------------------------------------------------------------------------------------------

describe('AWS errors', () => {
  test('fails when no credentials can be found, saying how to provide them', async () => {
    const stderr = await quotaFailingWith(awsError('CredentialsProviderError', 'Could not load credentials from any providers'));

    expect(stderr).toBe(
      'trainium-spot: no AWS credentials found (Could not load credentials from any providers): ' +
        "run 'aws configure' or 'aws sso login', set AWS_PROFILE, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n",
    );
  });

  test.each(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired'])(
    'fails when the credentials have expired (%s)',
    async (name) => {
      const stderr = await quotaFailingWith(awsError(name, 'The security token included in the request is expired'));

      expect(stderr).toBe(
        `trainium-spot: your AWS credentials have expired (${name} calling servicequotas:GetServiceQuota in us-east-2): ` +
          "refresh them, e.g. 'aws sso login', and run again\n",
      );
    },
  );

  test('fails when Service Quotas denies access, naming the missing IAM action', async () => {
    const stderr = await quotaFailingWith(
      new AccessDeniedException({ message: 'User: arn:aws:iam::1:user/x is not authorized\nto perform', $metadata: {} }),
    );

    expect(stderr).toBe(
      'trainium-spot: access denied: your credentials may not call servicequotas:GetServiceQuota in us-east-2 ' +
        '(AccessDeniedException); allow the IAM action servicequotas:GetServiceQuota for your user or role\n',
    );
  });

  test('fails when EC2 answers UnauthorizedOperation, naming ec2:DescribeInstances', async () => {
    ec2.on(DescribeInstancesCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized. Encoded authorization failure message: abc'));

    const run = await runCli(['quota']);

    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toContain('access denied: your credentials may not call ec2:DescribeInstances in us-east-2 (UnauthorizedOperation)');
    expect(run.stderr).not.toContain('Encoded authorization');
  });

  test('fails when AWS rejects the access key', async () => {
    const stderr = await quotaFailingWith(awsError('UnrecognizedClientException', 'The security token included in the request is invalid.'));

    expect(stderr).toContain('AWS rejected your credentials (UnrecognizedClientException calling servicequotas:GetServiceQuota in us-east-2)');
  });

  test('fails when the region is not enabled for the account', async () => {
    ec2.on(DescribeInstancesCommand).rejects(awsError('OptInRequired'));

    const run = await runCli(['quota']);

    expect(run.stderr).toContain('region us-east-2 is not enabled for this account (OptInRequired calling ec2:DescribeInstances)');
  });

  test('fails when Service Quotas keeps throttling after the SDK retries', async () => {
    const throttled = new TooManyRequestsException({ message: 'Rate exceeded', $metadata: { attempts: MAX_ATTEMPTS } });

    const stderr = await quotaFailingWith(throttled);

    expect(stderr).toBe(
      `trainium-spot: AWS throttled servicequotas:GetServiceQuota in us-east-2 (TooManyRequestsException) after ${MAX_ATTEMPTS} attempts: ` +
        'wait a minute and run again, or query fewer regions at once\n',
    );
  });

  test('fails when EC2 keeps throttling (RequestLimitExceeded)', async () => {
    ec2.on(DescribeInstancesCommand).rejects(awsError('RequestLimitExceeded', 'Request limit exceeded.', MAX_ATTEMPTS));

    const run = await runCli(['quota']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`AWS throttled ec2:DescribeInstances in us-east-2 (RequestLimitExceeded) after ${MAX_ATTEMPTS} attempts`);
  });

  test('fails when AWS cannot be reached', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });

    const stderr = await quotaFailingWith(refused);

    expect(stderr).toContain('could not reach AWS for servicequotas:GetServiceQuota in us-east-2 (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1)');
  });

  test('fails with the AWS error name and message, on one line, for anything else', async () => {
    const stderr = await quotaFailingWith(awsError('InternalFailure', 'line one\nline two'));

    expect(stderr).toBe('trainium-spot: servicequotas:GetServiceQuota in us-east-2 failed: InternalFailure: line one line two\n');
  });
});

describe('retries', () => {
  test.each([
    ['EC2', () => ec2Client('us-east-2')],
    ['Service Quotas', () => quotasClient('us-east-2')],
  ])('GIVEN the %s client WHEN created THEN it retries throttling adaptively, up to MAX_ATTEMPTS', async (_name, create) => {
    const client = create();

    await expect(client.config.maxAttempts()).resolves.toBe(MAX_ATTEMPTS);
    const strategy = await client.config.retryStrategy();
    expect(strategy).toMatchObject({ mode: 'adaptive' });
    expect(MAX_ATTEMPTS).toBeGreaterThan(3);
  });
});

// ---------------------------------------------------------------------------------------------
// Malformed command lines
// ---------------------------------------------------------------------------------------------

describe('malformed flags', () => {
  test.each<[string, string[], string]>([
    [
      'an unknown flag is given',
      ['quota', '--instance', 'trn1.2xlarge'],
      "trainium-spot: quota: unknown flag --instance; allowed: --instance-type, --region, --market, --count, --cluster, --request, --status, --output, --help (see 'trainium-spot help quota')\n",
    ],
    [
      'an unknown flag is given to where',
      ['where', '--nodes', '2'],
      "trainium-spot: where: unknown flag --nodes; allowed: --instance-type, --count, --regions, --region, --cluster, --output, --help (see 'trainium-spot help where')\n",
    ],
    [
      'an unknown flag is given to capacity',
      ['capacity', '--nodes', '2'],
      "trainium-spot: capacity: unknown flag --nodes; allowed: --blocks, --odcr, --instance-types, --regions, --region, --available-only, " +
        "--min-capacity, --active-only, --offerings, --instance-type, --count, --duration-hours, --cluster, --output, --help (see 'trainium-spot help capacity')\n",
    ],
    [
      'an unknown flag is given to cluster submit',
      ['cluster', 'submit', '--gpus', '2', '--', 'train.py'],
      "trainium-spot: cluster submit: unknown flag --gpus; allowed: --nodes, --time, --region, --timeout, --output, --help (see 'trainium-spot help cluster submit')\n",
    ],
    [
      'an unknown flag is given to cluster status',
      ['cluster', 'status', '--nodes', '2'],
      "trainium-spot: cluster status: unknown flag --nodes; allowed: --region, --timeout, --output, --help (see 'trainium-spot help cluster status')\n",
    ],
    [
      'cluster submit is given its command without --',
      ['cluster', 'submit', 'train.py'],
      `trainium-spot: cluster submit: unexpected argument "train.py"; flags look like --name value (see 'trainium-spot help cluster submit')\n`,
    ],
    [
      'cluster start is given a command after --, which it does not take',
      ['cluster', 'start', '--', 'now'],
      `trainium-spot: cluster start: unexpected argument "now"; flags look like --name value (see 'trainium-spot help cluster start')\n`,
    ],
    [
      'cluster is given no subcommand but a flag',
      ['cluster', '--region', 'us-east-2'],
      "trainium-spot: cluster: say which: status, start, ssh, submit (see 'trainium-spot help cluster')\n",
    ],
    [
      'a flag lacks its value',
      ['quota', '--region'],
      "trainium-spot: quota: --region needs a value (REGION) (see 'trainium-spot help quota')\n",
    ],
    [
      'a flag is followed by another flag instead of its value',
      ['quota', '--region', '--market', 'spot'],
      "trainium-spot: quota: --region needs a value (REGION) (see 'trainium-spot help quota')\n",
    ],
    [
      'a switch is given a value',
      ['quota', '--status=yes'],
      "trainium-spot: quota: --status is a switch and takes no value (see 'trainium-spot help quota')\n",
    ],
    [
      'a stray argument is given',
      ['quota', 'trn1.2xlarge'],
      `trainium-spot: quota: unexpected argument "trn1.2xlarge"; flags look like --name value (see 'trainium-spot help quota')\n`,
    ],
    [
      'the region is not a region code',
      ['quota', '--region', 'Ohio'],
      `trainium-spot: quota: --region "Ohio" is not valid; expected an AWS region code such as us-east-2 (see 'trainium-spot help quota')\n`,
    ],
    [
      'the output format is unknown',
      ['regions', '--output', 'yaml'],
      `trainium-spot: regions: --output "yaml" is not valid; expected one of table, json (see 'trainium-spot help regions')\n`,
    ],
    [
      'the command is unknown',
      ['quotas'],
      `trainium-spot: unknown command "quotas"; commands: ${COMMAND_NAMES}, help\n`,
    ],
    [
      'no command is given',
      [],
      `trainium-spot: no command given; commands: ${COMMAND_NAMES}, help (try 'trainium-spot --help')\n`,
    ],
  ])('fails when %s', async (_case, argv, expected) => {
    const run = await runCli(argv);

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(expected);
    expect(ec2).not.toHaveReceivedAnyCommand();
    expect(quotas).not.toHaveReceivedAnyCommand();
  });
});
