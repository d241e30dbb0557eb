/**
 * `ssh-config`: writes the boxes' Host blocks into a file of their own, ~/.ssh/trainium-spot/<name>.conf,
 * which ~/.ssh/config includes; the user's own lines are never edited. Each block reaches its box by
 * instance id through Session Manager, so `ssh <name>` and VS Code Remote-SSH survive IP changes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LOGIN_USER, sessionManagerProxyCommand } from '../../catalog';
import { DEPLOYMENT_FLAG, Flags, FlagSpecs } from '../args';
import { boxScope, cachedKey, DEPLOYMENT_NOTE, homeOf, requireDeploymentBoxes, writePrivateFile } from '../boxes';
import { CommandContext, CommandSpec, emit } from '../command';
import { commandTarget } from '../config';
import { EXIT_OK } from '../errors';
import { SCHEMA_VERSION, SshConfigReport } from '../report';

const FLAGS: FlagSpecs = {
  region: { type: 'string', placeholder: 'REGION', description: 'AWS region (default: the configured region)' },
  deployment: DEPLOYMENT_FLAG,
  remove: { type: 'boolean', description: 'Take the Host blocks out again' },
};

const MANAGED_DIR = 'trainium-spot';
/** Relative Include paths are read from ~/.ssh (ssh_config(5)). At the top, before any Host line, it applies to all. */
const INCLUDE_LINE = `Include ${MANAGED_DIR}/*.conf`;
const INCLUDE_COMMENT = '# trainium-spot: Host blocks of its boxes (trainium-spot ssh-config --remove takes them out)';

interface Paths {
  readonly userConfig: string;
  readonly dir: string;
  readonly file: string;
}

const pathsFor = (home: string, name: string): Paths => {
  const dir = path.join(home, '.ssh', MANAGED_DIR);
  return { userConfig: path.join(home, '.ssh', 'config'), dir, file: path.join(dir, `${name}.conf`) };
};

const readOr = (file: string, fallback: string): string => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : fallback);

/** Adds the Include line at the top of ~/.ssh/config once; every other line stays as it was. */
function ensureIncluded(userConfig: string): void {
  const current = readOr(userConfig, '');
  if (current.split('\n').some((line) => line.trim() === INCLUDE_LINE)) return;
  writePrivateFile(userConfig, `${INCLUDE_COMMENT}\n${INCLUDE_LINE}\n${current ? `\n${current}` : ''}`);
}

/** Takes out the two lines ensureIncluded added, and the blank line after them. */
function removeInclude(userConfig: string): void {
  if (!fs.existsSync(userConfig)) return;
  const current = fs.readFileSync(userConfig, 'utf8');
  const block = `${INCLUDE_COMMENT}\n${INCLUDE_LINE}\n`;
  const without = current.startsWith(`${block}\n`) ? current.slice(block.length + 1) : current.replace(block, '');
  if (without !== current) writePrivateFile(userConfig, without);
}

function remove(paths: Paths): SshConfigReport['action'] {
  const existed = fs.existsSync(paths.file);
  fs.rmSync(paths.file, { force: true });
  const others = fs.existsSync(paths.dir) ? fs.readdirSync(paths.dir).filter((f) => f.endsWith('.conf')) : [];
  if (others.length === 0) {
    removeInclude(paths.userConfig);
    if (fs.existsSync(paths.dir) && fs.readdirSync(paths.dir).length === 0) fs.rmdirSync(paths.dir);
  }
  return existed ? 'removed' : 'absent';
}

/**
 * A path as one ssh_config argument: `%` is doubled (ssh expands `%d`, `%u` ... in IdentityFile), and a path
 * with a space or a quote is put in double quotes, with its quotes and backslashes escaped (ssh_config(5)).
 */
export function configPath(file: string): string {
  const tokensKept = file.replace(/%/g, '%%');
  return /[\s"\\]/.test(tokensKept) ? `"${tokensKept.replace(/[\\"]/g, '\\$&')}"` : tokensKept;
}

async function run(flags: Flags, ctx: CommandContext): Promise<number> {
  const { config, region } = commandTarget(ctx, flags);
  const home = homeOf(ctx.io.env);
  const paths = pathsFor(home, config.name);
  const report = (action: SshConfigReport['action'], deployment: SshConfigReport['deployment'], hosts: SshConfigReport['hosts']): SshConfigReport => ({
    schemaVersion: SCHEMA_VERSION, command: 'ssh-config', file: paths.file, includedFrom: paths.userConfig, action, deployment, hosts,
  });

  if (flags.boolean('remove')) {
    flags.reject(['deployment'], 'with --remove, which takes out the whole file');
    emit(ctx, report(remove(paths), null, []), (r) =>
      r.action === 'removed' ? `Removed ${r.file} and, with no other blocks left, its Include.\n` : `Nothing to remove: ${r.file} does not exist.\n`);
    return EXIT_OK;
  }

  const { deployment, boxes } = await requireDeploymentBoxes(ctx, { region, name: config.name, deployment: flags.deployment() });
  const scope = boxScope(config.name, region, deployment);
  const hosts = boxes.map((b, i) => ({ alias: i === 0 ? config.name : `${config.name}-${i + 1}`, instanceId: b.instanceId }));
  const keyName = boxes[0].keyName;
  const identity = config.sshPublicKey === undefined && keyName
    ? await cachedKey(ctx, region, config.name, keyName, home)
    : undefined;
  const blocks = hosts.map((h) => [
    `Host ${h.alias}`,
    `  HostName ${h.instanceId}`,
    `  User ${LOGIN_USER}`,
    ...(identity ? [`  IdentityFile ${configPath(identity)}`, '  IdentitiesOnly yes'] : []),
    `  ProxyCommand ${sessionManagerProxyCommand(region)}`,
    // The Session Manager channel already proves which instance answers.
    '  StrictHostKeyChecking accept-new',
  ].join('\n'));
  const content = `# Written by trainium-spot ssh-config for ${scope}; rewritten on every run.\n` +
    `${blocks.join('\n\n')}\n`;
  const unchanged = readOr(paths.file, '') === content;
  if (!unchanged) writePrivateFile(paths.file, content);
  ensureIncluded(paths.userConfig);

  emit(ctx, report(unchanged ? 'unchanged' : 'written', deployment, hosts), (r) =>
    `${r.action === 'written' ? 'Wrote' : 'Up to date:'} ${r.file} (included from ${r.includedFrom}) for ${scope}\n` +
    r.hosts.map((h) => `  ssh ${h.alias}    # ${h.instanceId} through Session Manager\n`).join(''));
  return EXIT_OK;
}

export const sshConfigCommand: CommandSpec = {
  name: 'ssh-config',
  summary: 'Write Host blocks so that `ssh <name>` and VS Code Remote-SSH reach the boxes',
  usage: ['ssh-config [--region REGION] [--deployment ID]', 'ssh-config --remove'],
  flags: FLAGS,
  examples: ['trainium-spot ssh-config && ssh trainium-spot', 'trainium-spot ssh-config --remove'],
  notes:
    `The blocks live in ~/.ssh/${MANAGED_DIR}/<name>.conf; ~/.ssh/config gets one line at its top,\n` +
    `"${INCLUDE_LINE}", and nothing else of it changes. Running it again rewrites the file in place\n` +
    '(only when something changed); --remove deletes it, and the Include line once no file is left.\n' +
    'Hosts reach boxes by instance id through Session Manager, so stops and starts never break them.\n\n' +
    DEPLOYMENT_NOTE +
    'Exit codes: 0 written, unchanged or removed, 2 error.',
  run,
};
