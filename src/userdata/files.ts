/**
 * Finds the real files of src/userdata/ at synth time. `__dirname` is src/userdata under ts-node and
 * jest but dist/ once esbuild bundles the app into dist/main.js, so the files are located from the
 * package root, the nearest directory above whose package.json is trainium-spot's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';

export const PACKAGE_NAME = 'trainium-spot';

/** The nearest directory at or above `fromDir` whose package.json has `"name": "trainium-spot"`. */
export function packageRoot(fromDir: string = __dirname): string {
  for (let dir = path.resolve(fromDir); ; dir = path.dirname(dir)) {
    if (isOurPackage(dir)) return dir;
    if (path.dirname(dir) === dir) {
      throw new Error(`cannot find the package.json of ${PACKAGE_NAME} at or above ${fromDir}; ` +
        'the user data files are read from src/userdata/ beside it');
    }
  }
}

function isOurPackage(dir: string): boolean {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name === PACKAGE_NAME;
  } catch {
    return false;
  }
}

/** The text of `src/userdata/<file>`. */
export function readUserdataFile(file: string, fromDir: string = __dirname): string {
  return fs.readFileSync(path.join(packageRoot(fromDir), 'src', 'userdata', file), 'utf8');
}

/** The version in trainium-spot's package.json: what the agent records as installed. */
export function packageVersion(fromDir: string = __dirname): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(fromDir), 'package.json'), 'utf8')).version as string;
}

/** `src/userdata/<file>` with its `@KEY@` placeholders filled; a placeholder left over is a bug of ours. */
export function fillTemplate(file: string, values: Readonly<Record<string, string>>): string {
  const text = readUserdataFile(file).replace(/@([A-Z_]+)@/g, (whole, key: string) => values[key] ?? whole);
  const left = /@[A-Z_]+@/.exec(text);
  if (left) throw new Error(`src/userdata/${file}: no value for the placeholder ${left[0]}`);
  return text;
}

/**
 * A file's text gzip'd and base64'd, as the installer's manifest (`file` lines) and cloud-init's write_files
 * (`encoding: gz+b64`) take it. Node's gzip writes no timestamp, so the same text always gives the same bytes.
 */
export function packed(text: string): string {
  return gzipSync(Buffer.from(text, 'utf8'), { level: 9 }).toString('base64');
}

// ---------------------------------------------------------------------------------------------
// The copies machines get
// ---------------------------------------------------------------------------------------------

/**
 * A program (or systemd unit) of `src/userdata/<sourcePath>` as a machine gets it: without its comment lines (the
 * documentation, which stays in the repository), with one line naming its source after the shebang, every other line
 * byte for byte. The comments are a third to a half of our programs: with them the cluster head's SSM document fills
 * SSM's 64 KB, leaving no room for settings, and they would take nearly half of the 16 KB of EC2 user data a node has.
 *
 * Why cutting a line that starts with `#` changes nothing:
 * - in a systemd unit, "lines starting with "#" or ";" are ignored", also between a line ending in a backslash and
 *   its continuation (systemd.syntax(7), https://man7.org/linux/man-pages/man7/systemd.syntax.7.html, checked
 *   2026-12-07);
 * - in a shell program it is a comment unless it is inside a here-document or inside a string (or `${...}`,
 *   `` `...` ``) that spans lines, or continues a line ending in a backslash. `shellCommentLines` follows the
 *   quoting and refuses a file where a cut line could be any of those. Our programs use here-strings (`<<<`) only
 *   and no string of theirs spans a comment line; the tests hold each shipped copy to its source under bash's own
 *   parser (`declare -f` of both, which drops comments and keeps strings).
 */
export function shippedCopy(sourcePath: string, text: string): string {
  const lines = text.split('\n');
  const shebang = lines[0].startsWith('#!') ? lines.slice(0, 1) : [];
  const body = lines.slice(shebang.length);
  const cut = /\.sh$/.test(sourcePath) ? shellCommentLines(sourcePath, body, shebang.length) : body.map(isCommentLine);
  const name = path.posix.basename(sourcePath);
  return [...shebang, `# ${name}: from trainium-spot, documented in src/userdata/${sourcePath}`, ...body.filter((_, i) => !cut[i])].join('\n');
}

/** `src/userdata/<sourcePath>` as a machine gets it (shippedCopy). */
export function readShippedCopy(sourcePath: string): string {
  return shippedCopy(sourcePath, readUserdataFile(sourcePath));
}

const isCommentLine = (line: string): boolean => /^\s*#/.test(line);

/** What a shell line can be inside, as far as a comment line is concerned: a string, or code in `$(...)` or `$((...))`. */
type Context = 'single' | 'ansi' | 'double' | 'backtick' | 'brace' | 'command' | 'arithmetic';

/**
 * Which lines of a shell program (after the `skipped` lines of its shebang) are comment lines that can be cut. A small
 * scanner of bash's quoting: quotes, `$'...'`, backticks, `${...}`, `$(...)` and `$((...))` / `((...))`, backslashes and comments. It
 * throws where a comment line would not be a comment (inside a string, after a line continuation), at a
 * here-document (`<<` or `<<-` in code: not a here-string `<<<`, not a shift in arithmetic), and where its
 * quoting does not end with the file: all refusals, never a wrong copy.
 */
function shellCommentLines(sourcePath: string, lines: readonly string[], skipped: number): boolean[] {
  const refuse = (line: number, why: string) => {
    throw new Error(`src/userdata/${sourcePath}:${skipped + line + 1}: ${why}; its copy without comment lines could differ (shippedCopy)`);
  };
  const stack: { context: Context; depth: number }[] = [];
  const top = () => stack[stack.length - 1]?.context;
  // In `"${x:-'y'}"` the single quotes are characters; in `"$(echo 'y')"` they quote.
  const inDoubleQuotes = () => stack.filter((s) => s.context !== 'brace').pop()?.context === 'double';
  let continued = false;
  const cut = lines.map((line, n) => {
    const comment = isCommentLine(line);
    if (comment && (continued || stack.some((s) => s.context !== 'command'))) {
      const inside = stack.filter((s) => s.context !== 'command').pop()?.context;
      refuse(n, continued ? 'a comment line after a line continuation' : `a comment line inside ${inside}`);
    }
    continued = false;
    for (let i = 0; i < line.length; i++) {
      const rest = line.slice(i);
      const context = top();
      if (context === 'single') {
        if (line[i] === "'") stack.pop();
        continue;
      }
      if (line[i] === '\\') {
        if (i === line.length - 1 && context !== 'ansi') continued = true;
        i++;
        continue;
      }
      if (context === 'ansi') {
        if (line[i] === "'") stack.pop();
        continue;
      }
      if (rest.startsWith('$((')) {
        stack.push({ context: 'arithmetic', depth: 0 });
        i += 2;
      } else if (rest.startsWith('$(')) {
        stack.push({ context: 'command', depth: 0 });
        i += 1;
      } else if (rest.startsWith('${')) {
        stack.push({ context: 'brace', depth: 0 });
        i += 1;
      } else if (line[i] === '`') {
        if (context === 'backtick') stack.pop();
        else stack.push({ context: 'backtick', depth: 0 });
      } else if (context === 'double') {
        if (line[i] === '"') stack.pop();
      } else if (context === 'arithmetic') {
        if (rest.startsWith('))') && stack[stack.length - 1].depth === 0) {
          stack.pop();
          i += 1;
        } else if (line[i] === '(') stack[stack.length - 1].depth++;
        else if (line[i] === ')') stack[stack.length - 1].depth--;
      } else if (line[i] === '"') {
        stack.push({ context: 'double', depth: 0 });
      } else if (rest.startsWith("$'")) {
        stack.push({ context: 'ansi', depth: 0 });
        i += 1;
      } else if (line[i] === "'" && !inDoubleQuotes()) {
        stack.push({ context: 'single', depth: 0 });
      } else if (context === 'brace') {
        if (line[i] === '}') stack.pop();
      } else if (line[i] === '#' && (i === 0 || /[\s;&|()<>]/.test(line[i - 1]))) {
        break; // a comment, to the end of the line
      } else if (rest.startsWith('<<<')) {
        i += 2;
      } else if (rest.startsWith('<<')) {
        refuse(n, 'a here-document');
      } else if (rest.startsWith('((') && (i === 0 || /[\s;&|(]/.test(line[i - 1]))) {
        stack.push({ context: 'arithmetic', depth: 0 });
        i += 1;
      } else if (context === 'command' && line[i] === '(') {
        stack[stack.length - 1].depth++;
      } else if (context === 'command' && line[i] === ')') {
        if (stack[stack.length - 1].depth-- === 0) stack.pop();
      }
    }
    return comment;
  });
  if (stack.length > 0) refuse(lines.length - 1, `${top()} open at the end of the file`);
  return cut;
}
