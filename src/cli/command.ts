/** What every command is: its flags, its help, and a `run` that returns the exit code. */
import { Flags, FlagSpecs, OutputFormat } from './args';
import { AwsCaller } from './aws';
import { renderJson } from './format';
import { CliIo } from './io';
import { AnyReport } from './report';

export interface CommandContext {
  readonly io: CliIo;
  readonly output: OutputFormat;
  readonly aws: AwsCaller;
}

export interface CommandSpec {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Synopsis lines, without the program name. */
  readonly usage: readonly string[];
  readonly flags: FlagSpecs;
  readonly examples: readonly string[];
  /** Paragraphs after the flags: what the output means, exit codes. */
  readonly notes: string;
  /**
   * Takes a command after `--` (`cluster submit -- python3 train.py`), which `Flags.trailing` holds.
   * @default false: anything after the flags is an error
   */
  readonly trailing?: boolean;
  run(flags: Flags, ctx: CommandContext): Promise<number>;
}

/** A command with subcommands (`cluster start`, `cluster status`, ...): its own name and summary, and theirs. */
export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  /** Each named `<group> <sub>`. */
  readonly subcommands: readonly CommandSpec[];
  /** Paragraphs after the subcommands. */
  readonly notes: string;
}

/** Writes the report as JSON, or as the text `renderText` makes of it. */
export function emit<R extends AnyReport>(ctx: CommandContext, report: R, renderText: (report: R) => string): void {
  ctx.io.stdout.write(ctx.output === 'json' ? renderJson(report) : renderText(report));
}
