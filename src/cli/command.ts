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
  run(flags: Flags, ctx: CommandContext): Promise<number>;
}

/** Writes the report as JSON, or as the text `renderText` makes of it. */
export function emit<R extends AnyReport>(ctx: CommandContext, report: R, renderText: (report: R) => string): void {
  ctx.io.stdout.write(ctx.output === 'json' ? renderJson(report) : renderText(report));
}
