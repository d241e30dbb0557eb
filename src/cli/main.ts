/**
 * The CLI: `trainium-spot <command> [flags]`, daily use and preflight checks. bin/trainium-spot.js runs the bundle of
 * this file (dist/cli.js) and exits with what `main` returns; `main` itself never exits.
 */
import { ConfigError } from '../config';
import { parseFlags } from './args';
import { AwsCaller } from './aws';
import { CommandGroup, CommandSpec } from './command';
import { capacityCommand } from './commands/capacity';
import { catalogCommand } from './commands/catalog';
import { clusterGroup } from './commands/cluster';
import { imageCommand } from './commands/image';
import { quotaCommand } from './commands/quota';
import { regionsCommand } from './commands/regions';
import { spotPriceCommand } from './commands/spot-price';
import { sshCommand } from './commands/ssh';
import { sshConfigCommand } from './commands/ssh-config';
import { startCommand } from './commands/start';
import { statusCommand } from './commands/status';
import { stopCommand } from './commands/stop';
import { whereCommand } from './commands/where';
import { CliError, EXIT_ERROR, EXIT_OK, oneLine } from './errors';
import { commandHelp, generalHelp, groupHelp, PROGRAM } from './help';
import { CliIo, processIo, Progress } from './io';

export type { CliIo } from './io';
export type * from './report';

export const COMMANDS: readonly (CommandSpec | CommandGroup)[] = [
  statusCommand, startCommand, stopCommand, sshCommand, sshConfigCommand, clusterGroup,
  quotaCommand, capacityCommand, spotPriceCommand, regionsCommand, imageCommand, whereCommand, catalogCommand,
];

const isGroup = (command: CommandSpec | CommandGroup): command is CommandGroup => 'subcommands' in command;

/** Every command that runs, the subcommands of groups included (`cluster submit`). */
export const COMMAND_SPECS: readonly CommandSpec[] = COMMANDS.flatMap((c) => (isGroup(c) ? c.subcommands : [c]));

const HELP_FLAGS = ['--help', '-h'];
const commandNames = COMMANDS.map((c) => c.name).join(', ');

function findCommand(name: string): CommandSpec | CommandGroup {
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new CliError(`unknown command "${name}"; commands: ${commandNames}, help`);
  return command;
}

/** The subcommand `name` of `group`, or one line listing them. */
function findSubcommand(group: CommandGroup, name: string | undefined): CommandSpec {
  const names = group.subcommands.map((c) => c.name.slice(group.name.length + 1)).join(', ');
  const sub = group.subcommands.find((c) => c.name === `${group.name} ${name}`);
  if (sub) return sub;
  throw new CliError(name === undefined || name.startsWith('-')
    ? `${group.name}: say which: ${names} (see '${PROGRAM} help ${group.name}')`
    : `${group.name}: unknown command "${name}"; commands: ${names} (see '${PROGRAM} help ${group.name}')`);
}

/** The help a topic asks for: `help cluster`, `help cluster submit`, `help quota`. */
function helpOf(topic: readonly string[]): string {
  const command = findCommand(topic[0]);
  if (!isGroup(command)) return commandHelp(command);
  return topic[1] === undefined ? groupHelp(command) : commandHelp(findSubcommand(command, topic[1]));
}

async function dispatch(argv: readonly string[], io: CliIo, onProgress: (progress: Progress) => void): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) throw new CliError(`no command given; commands: ${commandNames}, help (try '${PROGRAM} --help')`);
  if (first === 'help' || HELP_FLAGS.includes(first)) {
    io.stdout.write(first === 'help' && rest.length > 0 ? helpOf(rest) : generalHelp(COMMANDS));
    return EXIT_OK;
  }
  const found = findCommand(first);
  if (isGroup(found) && (rest.length === 0 || HELP_FLAGS.includes(rest[0]))) {
    io.stdout.write(groupHelp(found));
    return EXIT_OK;
  }
  const command = isGroup(found) ? findSubcommand(found, rest[0]) : found;
  const flags = parseFlags(command.name, isGroup(found) ? rest.slice(1) : rest, command.flags, command.trailing);
  if (flags.boolean('help')) {
    io.stdout.write(commandHelp(command));
    return EXIT_OK;
  }
  const output = flags.output();
  const progress = new Progress(io.stderr, io.isTTY && output !== 'json');
  onProgress(progress);
  return command.run(flags, { io, output, aws: new AwsCaller(progress) });
}

/** Runs one command line; returns the exit code. Every failure is one line on stderr and code 2. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  let progress: Progress | undefined;
  try {
    return await dispatch(argv, io, (p) => (progress = p));
  } catch (error) {
    // Calls still running in other regions would leave the spinner on the error's line.
    progress?.clear();
    if (error instanceof ConfigError) {
      io.stderr.write(error.problems.map((problem) => `${PROGRAM}: ${problem}\n`).join(''));
      return EXIT_ERROR;
    }
    const message =
      error instanceof CliError ? error.message : `unexpected error: ${oneLine(error instanceof Error ? `${error.name}: ${error.message}` : String(error))}`;
    const details = error instanceof CliError ? error.details.map((detail) => `  ${detail}\n`).join('') : '';
    io.stderr.write(`${PROGRAM}: ${message}\n${details}`);
    return EXIT_ERROR;
  }
}
