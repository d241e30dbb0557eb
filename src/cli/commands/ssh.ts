/**
 * `ssh`: connects to a running box. The key of a generated key pair is fetched from SSM once and
 * kept with mode 0600; the route is Session Manager (no open port, works from anywhere) unless
 * sshCidrs opens port 22, in which case ssh goes straight to the public IP.
 */
import { spawn } from 'node:child_process';
import { LOGIN_USER, sessionManagerProxyCommand } from '../../catalog';
import { DEPLOYMENT_FLAG, Flags, FlagSpecs } from '../args';
import { boxScope, cachedKey, DEPLOYMENT_NOTE, homeOf, requireDeploymentBoxes } from '../boxes';
import { CommandContext, CommandSpec, emit } from '../command';
import { commandTarget } from '../config';
import { CliError, EXIT_OK } from '../errors';
import { shellQuote } from '../format';
import { SCHEMA_VERSION, SshReport } from '../report';

const FLAGS: FlagSpecs = {
  region: { type: 'string', placeholder: 'REGION', description: 'AWS region (default: the configured region)' },
  deployment: DEPLOYMENT_FLAG,
  'instance-id': { type: 'string', placeholder: 'ID', description: 'Which box, of whichever deployment (default: the first running one)' },
  print: { type: 'boolean', description: 'Print the ssh command instead of running it' },
};

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  const wanted = flags.string('instance-id');
  const { config, region } = commandTarget(ctx, flags);
  const { deployment, boxes } = await requireDeploymentBoxes(ctx, { region, name: config.name, deployment: flags.deployment(), instanceId: wanted });
  const scope = boxScope(config.name, region, deployment);
  const box = wanted ? boxes.find((b) => b.instanceId === wanted) : boxes.find((b) => b.state === 'running');
  if (!box) {
    throw new CliError(wanted
      ? `no box ${wanted} named ${scope}; its boxes: ${boxes.map((b) => b.instanceId).join(', ')}`
      : `no running box named ${scope} (${boxes.map((b) => `${b.instanceId} ${b.state}`).join(', ')}); start it with: trainium-spot start`);
  }
  if (box.state !== 'running') throw new CliError(`${box.instanceId} is ${box.state}; start it with: trainium-spot start`);
  // Which box of which deployment, where a person sees it: stdout is ssh's, or the command for scripts.
  if (ctx.output !== 'json') ctx.io.stderr.write(`trainium-spot: ${box.instanceId} of ${scope}\n`);

  const identity = config.sshPublicKey === undefined && box.keyName
    ? ['-i', await cachedKey(ctx, region, config.name, box.keyName, homeOf(ctx.io.env)), '-o', 'IdentitiesOnly=yes']
    : [];
  const direct = config.sshCidrs.length > 0 && box.publicIp !== null;
  const argv = direct ? ['ssh', ...identity, `${LOGIN_USER}@${box.publicIp}`] : sessionManagerSsh(identity, box.instanceId, region);
  if (flags.boolean('print') || ctx.output === 'json') {
    const report: SshReport = {
      schemaVersion: SCHEMA_VERSION, command: 'ssh', region, instanceId: box.instanceId, deployment,
      route: direct ? 'public-ip' : 'session-manager', argv,
    };
    emit(ctx, report, (r) => `${r.argv.map(shellQuote).join(' ')}\n`);
    return EXIT_OK;
  }
  return runInteractive(argv);
}

/** ssh to `instanceId` through Session Manager's AWS-StartSSHSession, as the login user. */
export const sessionManagerSsh = (identity: readonly string[], instanceId: string, region: string): string[] =>
  ['ssh', ...identity, '-o', `ProxyCommand=${sessionManagerProxyCommand(region)}`, '-o', 'StrictHostKeyChecking=accept-new', `${LOGIN_USER}@${instanceId}`];

/** What to install when the program is missing. */
const INSTALL_HINT: Readonly<Record<string, string>> = {
  ssh: 'ssh is not installed (OpenSSH client)',
  aws: 'the AWS CLI is not installed (with its Session Manager plugin)',
};

/** Runs `argv` (ssh, or the AWS CLI's start-session) on this terminal and returns its exit code. */
export function runInteractive(argv: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit' });
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(new CliError(error.code === 'ENOENT' ? INSTALL_HINT[argv[0]] ?? `${argv[0]} is not installed` : `${argv[0]} failed to start: ${error.message}`)));
    child.on('close', (code) => resolve(code ?? 255));
  });
}

export const sshCommand: CommandSpec = {
  name: 'ssh',
  summary: 'Connect to a running box (Session Manager unless sshCidrs opens port 22)',
  usage: ['ssh [--region REGION] [--deployment ID] [--instance-id ID] [--print]'],
  flags: FLAGS,
  examples: ['trainium-spot ssh', 'trainium-spot ssh --print'],
  notes:
    'The private key of a generated key pair is fetched from its SSM SecureString once and kept at\n' +
    '~/.ssh/<name>-<key pair id>.pem (mode 0600). With sshPublicKey configured your own key is used.\n' +
    'The Session Manager route needs the AWS CLI and its Session Manager plugin on this machine.\n' +
    'Which box of which deployment it connects to is one line on stderr.\n\n' +
    DEPLOYMENT_NOTE +
    'Exit codes: ssh\'s own; 0 with --print; 2 error before ssh ran.',
  run,
};
