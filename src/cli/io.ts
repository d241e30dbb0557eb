/**
 * Where the CLI reads and writes: injected so that tests run `main` in-process, and a progress
 * indicator that only a person at a terminal sees.
 */

/** Anything with `write(string)`: process.stdout, a test buffer. */
export interface TextSink {
  write(text: string): unknown;
}

export interface CliIo {
  /** Results: the table or the JSON document. */
  readonly stdout: TextSink;
  /** Errors (one line each) and the progress indicator. */
  readonly stderr: TextSink;
  /** The environment the CLI reads (region). The AWS SDK itself reads `process.env`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether stderr is a terminal; the progress indicator is drawn only then. */
  readonly isTTY: boolean;
  /** Where cdktf.json is looked for. @default - the process's working directory */
  readonly cwd?: string;
  /**
   * Asks a yes/no question and resolves to the answer.
   * @default - no way to ask: no terminal on stdin and stderr
   */
  readonly confirm?: (question: string) => Promise<boolean>;
}

export function processIo(): CliIo {
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    isTTY: Boolean(process.stderr.isTTY),
    cwd: process.cwd(),
    confirm: interactive ? askOnTerminal : undefined,
  };
}

async function askOnTerminal(question: string): Promise<boolean> {
  const readline = await import('node:readline/promises');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------------------------

const FRAMES = ['|', '/', '-', '\\'];
const FRAME_INTERVAL_MS = 100;
const CLEAR_LINE = '\r\x1b[K';

/**
 * A one-line spinner on stderr while AWS calls are outstanding. Calls may overlap (one per
 * region); the line names the newest and counts the rest. Disabled, it writes nothing.
 */
export class Progress {
  private readonly waiting = new Map<number, string>();
  private nextId = 0;
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly sink: TextSink, private readonly enabled: boolean) {}

  /** Shows `label` until the returned function is called. */
  start(label: string): () => void {
    if (!this.enabled) return () => undefined;
    const id = this.nextId++;
    this.waiting.set(id, label);
    if (!this.timer) {
      this.timer = setInterval(() => this.draw(), FRAME_INTERVAL_MS);
      this.timer.unref();
    }
    this.draw();
    return () => this.stop(id);
  }

  /** Erases the line and forgets every outstanding call: before an error is printed. */
  clear(): void {
    if (this.waiting.size === 0) return;
    this.waiting.clear();
    this.erase();
  }

  private stop(id: number): void {
    if (!this.waiting.delete(id) || this.waiting.size > 0) return;
    this.erase();
  }

  private erase(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.sink.write(CLEAR_LINE);
  }

  private draw(): void {
    const labels = [...this.waiting.values()];
    const others = labels.length > 1 ? ` (+${labels.length - 1} more)` : '';
    const spinner = FRAMES[this.frame++ % FRAMES.length];
    this.sink.write(`${CLEAR_LINE}${spinner} waiting on AWS: ${labels[labels.length - 1]}${others}`);
  }
}
