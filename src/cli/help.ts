/** Help texts, generated from the command specs so that flags and help cannot drift apart. */
import { COMMON_FLAGS, FlagSpecs } from './args';
import { CommandGroup, CommandSpec } from './command';

export const PROGRAM = 'trainium-spot';

function flagLines(specs: FlagSpecs): string[] {
  const entries = Object.entries(specs).map(([name, spec]) => {
    const short = name === 'help' ? '-h, ' : '';
    return [`${short}--${name}${spec.placeholder ? ` ${spec.placeholder}` : ''}`, spec.description] as const;
  });
  const width = Math.max(...entries.map(([left]) => left.length));
  return entries.map(([left, description]) => `  ${left.padEnd(width)}  ${description}`);
}

export function commandHelp(command: CommandSpec): string {
  return [
    `${PROGRAM} ${command.name} - ${command.summary}`,
    '',
    'Usage:',
    ...command.usage.map((line) => `  ${PROGRAM} ${line}`),
    '',
    'Flags:',
    ...flagLines({ ...command.flags, ...COMMON_FLAGS }),
    '',
    'Examples:',
    ...command.examples.map((line) => `  ${line}`),
    '',
    command.notes,
    '',
  ].join('\n');
}

/** `help cluster`: the group's subcommands, each with its synopsis, and how to get each one's help. */
export function groupHelp(group: CommandGroup): string {
  const width = Math.max(...group.subcommands.map((c) => c.name.length));
  return [
    `${PROGRAM} ${group.name} - ${group.summary}`,
    '',
    'Usage:',
    ...group.subcommands.flatMap((c) => c.usage.map((line) => `  ${PROGRAM} ${line}`)),
    '',
    'Commands:',
    ...group.subcommands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Examples:',
    ...group.subcommands.map((c) => `  ${c.examples[0]}`),
    '',
    group.notes,
    `Help for one of them: ${PROGRAM} help ${group.subcommands[0].name}`,
    '',
  ].join('\n');
}

const firstExample = (c: CommandSpec | CommandGroup): string => ('subcommands' in c ? c.subcommands[0].examples[0] : c.examples[0]);

export function generalHelp(commands: readonly (CommandSpec | CommandGroup)[]): string {
  const width = Math.max(...commands.map((c) => c.name.length), 'help'.length);
  return [
    `${PROGRAM} - run the Trainium spot box and its Slurm cluster day to day, and check before you deploy them`,
    '',
    'Usage:',
    `  ${PROGRAM} <command> [flags]`,
    `  ${PROGRAM} help <command>`,
    `  ${PROGRAM} cluster <command> [flags] [-- <command to run>]`,
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${'help'.padEnd(width)}  Show help for a command`,
    '',
    'Every command takes --output table|json and --help. Commands read the stack\'s configuration',
    '(cdktf.json context, $TRAINIUM_SPOT_CONFIG, TRAINIUM_SPOT_* variables) for the region, type,',
    'market and count; flags override them for one run. AWS_REGION does not pick the region (a',
    'warning says when it differs). Credentials come from the standard AWS SDK chain (AWS_PROFILE,',
    '~/.aws/config, SSO, instance roles).',
    '',
    'Examples:',
    ...commands.map((c) => `  ${firstExample(c)}`),
    `  ${PROGRAM} help quota`,
    '',
    'Exit codes: 0 success, 1 not done (quota: does not fit; status: no box; start: capacity not back',
    'or not ready in time; stop: declined; image: the plan would reject it; catalog --live: the catalog',
    'differs from AWS; cluster status: no head; cluster start: the head not running in time), 2 error',
    '(one line on stderr).',
    '',
  ].join('\n');
}
